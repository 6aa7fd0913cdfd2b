"""`kpi-pipeline review` on both engines: what it lists, what its flags write, what it lists again, and labels."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from kpi_pipeline.calibration.apply import map_key
from kpi_pipeline.cli import main
from kpi_pipeline.extraction.offline import MODEL as OFFLINE_MODEL
from kpi_pipeline.quality.gate import run_gate
from kpi_pipeline.review.labels import labelled_readings
from kpi_pipeline.review.listing import Pending, days_decided_since_published, pending
from kpi_pipeline.review.overrides import Override, load_overrides
from kpi_pipeline.review.session import Decision, decide, review_at_prompt
from kpi_pipeline.warehouse import Warehouse
from kpi_pipeline.warehouse.publish import ensure_kpi_schema, publish_catalog, publish_gate, read_metric_values
from kpi_pipeline.warehouse.tables import DAY_STATUS
from tests.quality.synthetic import CATALOG, frame, metric_row, store, with_case, write_catalog

DAY = date(2026, 7, 1)
NOW = datetime(2026, 7, 2, 6, 0, tzinfo=UTC)


def publish(wh: Warehouse, rows: pd.DataFrame, overrides: list[Override] | None = None) -> None:
    store(wh, rows, [DAY])
    ensure_kpi_schema(wh)
    publish_catalog(wh, CATALOG)
    gate = run_gate(read_metric_values(wh, [DAY]), CATALOG, [DAY])
    publish_gate(wh, gate, "run", NOW, overrides=overrides or [])


def a_day_to_review() -> pd.DataFrame:
    """p95 quarantined (confidence 0.4 < 0.6), api_error_rate published just above its 0.7 threshold."""
    rows = with_case(DAY, "low_confidence")
    rows.loc[rows["metric_id"] == "api_error_rate", "confidence"] = 0.75
    return rows


@pytest.fixture
def project(tmp_path: Path, warehouse_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's project: metrics.yaml, overrides/ beside it, the warehouse; the CLI configured for it."""
    catalog = write_catalog(tmp_path / "metrics.yaml")
    monkeypatch.setenv("KPI_CATALOG", str(catalog))
    monkeypatch.setenv("KPI_WAREHOUSE_URL", warehouse_url)
    monkeypatch.delenv("KPI_OVERRIDES_DIR", raising=False)
    return tmp_path


def test_lists_quarantined_and_low_confidence_readings_with_quotes_sources_and_reasons(
    warehouse: Warehouse,
) -> None:
    publish(warehouse, a_day_to_review())
    items = pending(warehouse, [])
    assert [(p.metric, p.kind) for p in items] == [
        ("api_error_rate", "low_confidence"),
        ("p95_latency_ms", "quarantined"),
    ]
    text = "\n".join(items[1].lines(2))
    assert "[2] p95_latency_ms on 2026-07-01: 310 (confidence 0.40), quarantined" in text
    assert "reason: min_confidence:" in text
    assert '"p95_latency_ms is 310.0 today"  (slack slack:C1:1 https://x.test/1)' in text
    assert f"reading {items[1].fingerprint}" in text
    assert [p.metric for p in pending(warehouse, [], metric="p95_latency_ms")] == ["p95_latency_ms"]
    assert pending(warehouse, [], since=date(2026, 7, 2)) == []


def test_review_by_flags_writes_a_valid_file_and_the_decision_leaves_the_list(
    warehouse: Warehouse, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    publish(warehouse, a_day_to_review())
    flags = ["--day", "2026-07-01", "--metric", "p95_latency_ms", "--reason", "ops confirmed", "--reviewer", "alice"]
    assert main(["review", "--accept", *flags]) == 0
    [written] = load_overrides(project / "overrides", [m.id for m in CATALOG.metrics])
    assert (written.metric, written.day, written.action, written.reviewer) == ("p95_latency_ms", DAY, "accept", "alice")
    assert written.reading == pending(warehouse, [])[1].fingerprint
    capsys.readouterr()
    assert main(["review"]) == 0  # pytest's stdin is no terminal: it lists, and says how to decide
    out = capsys.readouterr().out
    assert "api_error_rate on 2026-07-01" in out and "p95_latency_ms" not in out
    assert "no terminal: listed only" in out


def test_an_override_whose_reading_changed_is_listed_again(warehouse: Warehouse, project: Path) -> None:
    publish(warehouse, a_day_to_review())
    decide(warehouse, project / "overrides", "p95_latency_ms", DAY, Decision("set", 305.0, "recount", "bob"), NOW)
    overrides = load_overrides(project / "overrides")
    publish(warehouse, a_day_to_review(), overrides)
    assert "p95_latency_ms" not in [p.metric for p in pending(warehouse, overrides)]
    changed = a_day_to_review()
    changed.loc[changed["metric_id"] == "p95_latency_ms", "value"] = 320.0  # a rerun reads something else
    publish(warehouse, changed, overrides)
    [again] = [p for p in pending(warehouse, overrides) if p.metric == "p95_latency_ms"]
    assert again.kind == "override_stale" and again.value == 320.0
    assert again.previous is not None and "set to 305 by bob" in "\n".join(again.lines(1))
    fact = warehouse.scalar("SELECT value FROM kpi.fct_metric_daily WHERE metric_id = 'p95_latency_ms'")
    assert fact == 305.0  # the reviewed value stays published until someone decides on the new reading


def test_decisions_at_the_prompt_are_written_and_end_of_input_stops(warehouse: Warehouse, project: Path) -> None:
    publish(warehouse, a_day_to_review())
    answers = iter(["x", "s", "s 2.9", "", "rounding", "carol", "r", "wrong channel"])
    said: list[str] = []

    def ask(prompt: str) -> str:
        return next(answers)

    def record(item: Pending, decision: Decision) -> Override:
        return decide(warehouse, project / "overrides", item.metric, item.day, decision, NOW)

    written = review_at_prompt(pending(warehouse, []), record, ask=ask, say=said.append)
    assert [(o.metric, o.action, o.value, o.reason, o.reviewer) for o in written] == [
        ("api_error_rate", "set", 2.9, "rounding", "carol"),
        ("p95_latency_ms", "reject", None, "wrong channel", "carol"),
    ]
    assert "'x': type a, s VALUE, r, q, or Enter to skip" in said
    assert "write the value after s, e.g. s 2.5" in said
    assert len(load_overrides(project / "overrides")) == 2


def test_flags_refuse_a_decision_without_its_reason_and_a_malformed_file_in_one_line(
    warehouse: Warehouse, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    publish(warehouse, a_day_to_review())
    assert main(["review", "--reject", "--day", "2026-07-01", "--metric", "nps"]) == 2
    assert capsys.readouterr().err == (
        "kpi-pipeline review: --reject needs --reason, --reviewer: say which reading, why and who decided\n"
    )
    (project / "overrides").mkdir()
    (project / "overrides" / "team.yaml").write_text("overrides:\n  - metric: nps\n    action: maybe\n")
    assert main(["review"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kpi-pipeline review: {project / 'overrides' / 'team.yaml'}: overrides[0]")
    assert err.count("\n") == 1


def test_decisions_become_labelled_readings_with_the_raw_confidence(warehouse: Warehouse, project: Path) -> None:
    rows = a_day_to_review()
    rows = pd.concat([rows[rows.metric_id != "nps"], frame(metric_row("nps", DAY, 40.0, 0.8))], ignore_index=True)
    publish(warehouse, rows)
    folder = project / "overrides"
    decide(warehouse, folder, "p95_latency_ms", DAY, Decision("accept", None, "right", "alice"), NOW)
    decide(warehouse, folder, "api_error_rate", DAY, Decision("set", 2.0, "recounted", "alice"), NOW)
    decide(warehouse, folder, "weekly_active_users", DAY, Decision("set", 1201.0, "same", "alice"), NOW)
    decide(warehouse, folder, "nps", DAY, Decision("reject", None, "a survey of staff", "alice"), NOW)
    labels = labelled_readings(folder, warehouse)
    assert [(r.metric_id, r.day, r.confidence_raw, r.correct, r.grounded) for r in labels] == [
        ("api_error_rate", DAY, 0.75, False, True),  # set to another value: the reading was wrong
        ("nps", DAY, 0.8, False, True),  # rejected: wrong
        ("p95_latency_ms", DAY, 0.4, True, True),  # accepted: right
        ("weekly_active_users", DAY, 0.9, True, True),  # set within 1% of the reading's 1200: right
    ]
    assert {r.dataset for r in labels} == {str(folder / "review.yaml")}
    changed = rows.copy()
    changed.loc[changed["metric_id"] == "p95_latency_ms", "value"] = 330.0
    store(warehouse, changed, [DAY])
    assert "p95_latency_ms" not in [r.metric_id for r in labelled_readings(folder, warehouse)]  # about another reading


def test_a_backfill_refuses_a_malformed_overrides_file_in_one_line_before_it_starts(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    (project / "overrides").mkdir()
    (project / "overrides" / "team.yaml").write_text("overrides:\n  - metric: nps\n    day: 2026-07-01\n")
    assert main(["backfill", "2026-07-01", "2026-07-01"]) == 2
    err = capsys.readouterr().err
    assert (
        err == f"kpi-pipeline backfill: {project / 'overrides' / 'team.yaml'}: overrides[0]: key 'action' is missing\n"
    )
    assert not any((tmp_path / "home").iterdir())  # no Dagster run or backfill was made


def test_a_backfill_publishes_again_the_done_days_decided_since_their_publish(warehouse: Warehouse) -> None:
    days = [DAY, date(2026, 7, 2), date(2026, 7, 3)]
    status = [
        {"day": d, "status": "complete", "metrics": 4, "unread": 0, "unread_metrics": "[]", "catalog_version": "c1",
         "prompt_version": "p1", "backend": "offline", "model": "offline-1", "extract_run_id": "r",
         "extracted_at": NOW, "publish_status": "published", "published_at": NOW}
        for d in days[:2]
    ]  # fmt: skip
    warehouse.replace_days(DAY_STATUS, days, pd.DataFrame(status))
    before, after = NOW - timedelta(hours=1), NOW + timedelta(hours=1)
    overrides = [
        Override("nps", DAY, "reject", None, "old news", "bob", before, "none"),  # already applied
        Override("nps", days[1], "reject", None, "new", "bob", after, "none"),  # not yet
        Override("nps", days[2], "reject", None, "never published", "bob", before, "none"),
    ]
    assert days_decided_since_published(warehouse, overrides, days) == {days[1], days[2]}
    assert days_decided_since_published(warehouse, overrides, [DAY]) == set()


def test_a_warehouse_with_nothing_published_has_nothing_to_review(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KPI_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'new.duckdb'}")
    assert main(["review"]) == 0
    assert capsys.readouterr().out == "nothing to review\n"


def test_calibrate_with_reviews_adds_the_decisions_about_the_backends_own_readings(
    warehouse: Warehouse,
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = a_day_to_review()
    rows["model"] = OFFLINE_MODEL  # readings the offline extractor made, so its map may learn from them
    publish(warehouse, rows)
    folder = project / "overrides"
    decide(warehouse, folder, "p95_latency_ms", DAY, Decision("accept", None, "right", "alice"), NOW)
    decide(warehouse, folder, "api_error_rate", DAY, Decision("set", 2.0, "recounted", "alice"), NOW)
    assert labelled_readings(folder, warehouse, model="another-model") == []
    monkeypatch.setenv("KPI_CALIBRATION_DIR", str(tmp_path / "calibration"))
    dataset = str(Path(__file__).resolve().parents[1] / "datasets" / "rustc_perf_triage")
    map_file = tmp_path / "calibration" / map_key("offline", OFFLINE_MODEL).file_name

    assert main(["calibrate", dataset]) == 0
    without = json.loads(map_file.read_text())["readings"]
    assert main(["calibrate", dataset, "--reviews"]) == 0
    assert f"{folder}: 2 labelled reading(s) of {OFFLINE_MODEL}" in capsys.readouterr().out
    assert json.loads(map_file.read_text())["readings"] == without + 2


def test_calibrate_needs_datasets_or_reviews(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate"]) == 2
    assert "give labelled datasets" in capsys.readouterr().err
