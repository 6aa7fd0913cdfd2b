"""Publishing to the kpi schema on both engines: one transaction per day, idempotent, crash-safe, concurrent-safe."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kpi_pipeline.quality.gate import GateResult, run_gate
from kpi_pipeline.warehouse import Warehouse, open_warehouse
from kpi_pipeline.warehouse.publish import (
    PublishBlocked,
    ensure_kpi_schema,
    publish_catalog,
    publish_day,
    publish_gate,
    read_metric_values,
)
from kpi_pipeline.warehouse.tables import DAY_STATUS, KPI_TABLES
from tests.quality.synthetic import (
    CATALOG,
    CATALOG_DATA,
    PLANTED,
    clean_day,
    frame,
    metric_row,
    planted_days,
    store,
    with_case,
)

START = date(2026, 7, 1)
DAYS = [START + timedelta(days=i) for i in range(6)]
NOW = datetime(2026, 7, 8, 6, 0, tzinfo=UTC)


def _publish(wh: Warehouse, rows: pd.DataFrame, days: list[date], run_id: str = "publish-run") -> GateResult:
    store(wh, rows, days)
    ensure_kpi_schema(wh)
    publish_catalog(wh, CATALOG)
    gate = run_gate(read_metric_values(wh, days), CATALOG, days)
    publish_gate(wh, gate, run_id, NOW)
    return gate


def _norm(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.date()
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") else value


def _rows(df: pd.DataFrame) -> list[list[Any]]:
    return [[_norm(v) for v in row] for row in df.itertuples(index=False)]


def tables(wh: Warehouse) -> dict[str, list[tuple[Any, ...]]]:
    """Every kpi table's rows, sorted, without published_at (the one column a re-publish changes)."""
    out = {}
    for table in KPI_TABLES:
        cols = [c for c in table.column_names if c != "published_at"]
        df = wh.query_df(f"SELECT {', '.join(cols)} FROM {table.qualified}")
        out[table.qualified] = sorted(tuple(_norm(v) for v in row) for row in df.itertuples(index=False))
    return out


def test_publishes_the_days_with_planted_cases_in_quarantine_and_no_rule_broken(warehouse: Warehouse) -> None:
    _publish(warehouse, planted_days(DAYS), DAYS)
    # 3 readings a clean day (nps abstains); a planted case takes a reading away, except on nps's own day
    assert warehouse.scalar("SELECT COUNT(*) FROM kpi.fct_metric_daily") == (2 + 2 + 2 + 3) + 2 * 3
    quarantine = warehouse.query_df("SELECT metric_id, day, reasons, evidence, run_id FROM kpi.metric_quarantine")
    assert sorted(quarantine["metric_id"]) == sorted(PLANTED[c](START)["metric_id"] for c in PLANTED)
    reasons = {m: json.loads(r) for m, r in zip(quarantine["metric_id"], quarantine["reasons"], strict=True)}
    assert reasons["nps"][-1].startswith("prompt_injection:")
    assert reasons["api_error_rate"] == ["max_value: value 250 is above the metric's validation.max 100"]
    assert set(quarantine["run_id"]) == {"extract-run-1"}
    broken = warehouse.scalar(
        """SELECT COUNT(*) FROM kpi.fct_metric_daily f JOIN kpi.dim_metric d ON d.metric_id = f.metric_id
           WHERE f.confidence < d.min_confidence OR f.value < d.min_value OR f.value > d.max_value
              OR NOT EXISTS (SELECT 1 FROM kpi.fct_metric_evidence e WHERE e.metric_id = f.metric_id AND e.day = f.day)
              OR EXISTS (SELECT 1 FROM kpi.metric_quarantine q WHERE q.metric_id = f.metric_id AND q.day = f.day)"""
    )
    assert broken == 0


def test_evidence_rows_carry_each_quote_of_a_published_value(warehouse: Warehouse) -> None:
    rows = clean_day(START)
    rows.loc[0, "evidence"] = json.dumps(
        [
            {"source_type": "jira", "source_id": "jira:PLAT-1", "url": "https://j.test/PLAT-1", "quote": "3% errors"},
            {"source_type": "docs", "source_id": "docs:status.md@abc", "url": None, "quote": "error rate 3%"},
            {"source_type": "docs", "source_id": "docs:x", "url": None, "quote": ""},
        ]
    )
    _publish(warehouse, rows, [START])
    evidence = warehouse.query_df(
        "SELECT evidence_no, source_type, source_id, url, quote FROM kpi.fct_metric_evidence "
        "WHERE metric_id = 'api_error_rate' ORDER BY evidence_no"
    )
    assert _rows(evidence) == [
        [1, "jira", "jira:PLAT-1", "https://j.test/PLAT-1", "3% errors"],
        [2, "docs", "docs:status.md@abc", None, "error rate 3%"],
    ]


def test_republishing_a_day_leaves_identical_tables(warehouse: Warehouse) -> None:
    _publish(warehouse, planted_days(DAYS), DAYS)
    first = tables(warehouse)
    stamp = warehouse.scalar("SELECT MAX(published_at) FROM kpi.fct_metric_daily")
    _publish(warehouse, planted_days(DAYS), DAYS, run_id="another-run")
    assert tables(warehouse) == first
    assert warehouse.scalar("SELECT COUNT(*) FROM kpi.fct_metric_daily WHERE published_at <> ?", [stamp]) == 0


def test_a_value_that_starts_failing_moves_from_published_to_quarantine(warehouse: Warehouse) -> None:
    _publish(warehouse, clean_day(START), [START])
    _publish(warehouse, with_case(START, "out_of_range"), [START])
    assert warehouse.scalar("SELECT COUNT(*) FROM kpi.fct_metric_daily WHERE metric_id = 'api_error_rate'") == 0
    assert warehouse.scalar("SELECT COUNT(*) FROM kpi.fct_metric_evidence WHERE metric_id = 'api_error_rate'") == 0
    assert warehouse.scalar("SELECT COUNT(*) FROM kpi.metric_quarantine WHERE metric_id = 'api_error_rate'") == 1


def _day_status(wh: Warehouse, days: list[date]) -> None:
    """The extract.day_status rows extraction would have written (publish_* NULL)."""
    rows = pd.DataFrame(
        [
            {"day": d, "status": "complete", "metrics": 4, "unread": 0, "unread_metrics": "[]",
             "catalog_version": "c1", "prompt_version": "p1", "backend": "offline", "model": "offline-1",
             "extract_run_id": "extract-run-1", "extracted_at": NOW - timedelta(hours=1)}
            for d in days
        ]
    )  # fmt: skip
    wh.replace_days(DAY_STATUS, days, rows)


def _publish_status(wh: Warehouse) -> dict[date, tuple[str, str | None, str]]:
    df = wh.query_df("SELECT day, publish_status, publish_reason, publish_run_id FROM extract.day_status")
    return {_norm(d): (s, _norm(r), run) for d, s, r, run in df.itertuples(index=False)}


def _unread(day: date, metric_id: str) -> dict[str, Any]:
    return metric_row(metric_id, day, None, 0.0, status="unread", reasoning="not read: slack (the model refused)")


def test_a_range_wide_problem_publishes_nothing(warehouse: Warehouse) -> None:
    _publish(warehouse, clean_day(START), [START])
    before = tables(warehouse)
    duplicated = pd.concat([clean_day(START), clean_day(START)], ignore_index=True)
    gate = run_gate(duplicated, CATALOG, [START])
    assert gate.blocked
    with pytest.raises(PublishBlocked, match="one_row_per_metric_day"):
        publish_gate(warehouse, gate, "run", NOW)
    assert tables(warehouse) == before


def test_in_a_range_a_day_over_the_quarantine_ceiling_is_held_and_the_others_publish(warehouse: Warehouse) -> None:
    days = DAYS[:3]
    _day_status(warehouse, days)
    _publish(warehouse, pd.concat([clean_day(d) for d in days]), days, run_id="first")
    previous = warehouse.query_df(f"SELECT * FROM kpi.fct_metric_daily WHERE day = '{days[1]}' ORDER BY metric_id")
    evidence = tables(warehouse)["kpi.fct_metric_evidence"]
    bad = frame(*(make(days[1]) for make in PLANTED.values()))  # every row of the middle day breaks a rule
    rerun = pd.concat([clean_day(days[0], 2.0), bad, clean_day(days[2], 2.0)])
    _day_status(warehouse, days)
    gate = _publish(warehouse, rerun, days, run_id="second")

    assert not gate.blocked and list(gate.held_days) == [days[1]]
    assert "quarantine rate of 2026-07-02 is 100% (4 of 4 rows)" in gate.held_days[days[1]]
    facts = warehouse.query_df("SELECT day, metric_id, value FROM kpi.fct_metric_daily ORDER BY day, metric_id")
    assert {_norm(d): v for d, m, v in facts.itertuples(index=False) if m == "api_error_rate"} == {
        days[0]: 6.0,  # the good days published the rerun's values
        days[1]: 3.0,  # the held day kept its previous facts...
        days[2]: 6.0,
    }
    held_facts = warehouse.query_df(f"SELECT * FROM kpi.fct_metric_daily WHERE day = '{days[1]}' ORDER BY metric_id")
    pd.testing.assert_frame_equal(held_facts, previous)  # ...untouched, published_at included
    held_evidence = [row for row in tables(warehouse)["kpi.fct_metric_evidence"] if row[1] == days[1]]
    assert held_evidence == [row for row in evidence if row[1] == days[1]]
    quarantine = warehouse.query_df("SELECT metric_id, day, reasons FROM kpi.metric_quarantine")
    assert {_norm(d) for d in quarantine["day"]} == {days[1]}  # the held day's new rows wait for review
    assert sorted(quarantine["metric_id"]) == sorted(make(days[1])["metric_id"] for make in PLANTED.values())
    status = _publish_status(warehouse)
    assert status[days[0]] == ("published", None, "second") and status[days[2]] == ("published", None, "second")
    assert status[days[1]][0] == "held" and "quarantine rate of 2026-07-02 is 100%" in str(status[days[1]][1])


def test_an_unread_value_keeps_its_published_version_and_the_others_publish(warehouse: Warehouse) -> None:
    _day_status(warehouse, [START])
    _publish(warehouse, with_case(START, "low_confidence"), [START], run_id="first")  # p95 in quarantine
    before = tables(warehouse)
    rows = clean_day(START, 2.0)
    rows = rows[~rows["metric_id"].isin(["api_error_rate", "p95_latency_ms"])]
    rerun = pd.concat([rows, frame(_unread(START, "api_error_rate"), _unread(START, "p95_latency_ms"))])
    store(warehouse, rerun, [START])
    gate = run_gate(read_metric_values(warehouse, [START]), CATALOG, [START], unread_ceiling=0.5)
    published = publish_gate(warehouse, gate, "second", NOW + timedelta(days=1))

    after = tables(warehouse)
    for name in ("kpi.fct_metric_daily", "kpi.fct_metric_evidence", "kpi.metric_quarantine"):
        kept = [r for r in before[name] if r[0] in ("api_error_rate", "p95_latency_ms")]
        assert [r for r in after[name] if r[0] in ("api_error_rate", "p95_latency_ms")] == kept, name
    stamp = warehouse.scalar("SELECT published_at FROM kpi.fct_metric_daily WHERE metric_id = 'api_error_rate'")
    assert pd.Timestamp(stamp) == pd.Timestamp(NOW)  # not even re-stamped
    wau = warehouse.scalar("SELECT value FROM kpi.fct_metric_daily WHERE metric_id = 'weekly_active_users'")
    assert wau == 2400.0  # the read metric published its new value
    assert [(d.status, d.kept) for d in published.days] == [("published", ("api_error_rate", "p95_latency_ms"))]
    state, reason, _ = _publish_status(warehouse)[START]
    assert state == "published" and "kept the previous version of api_error_rate, p95_latency_ms" in str(reason)


def test_a_day_with_too_many_unread_values_is_held_and_nothing_of_it_changes(warehouse: Warehouse) -> None:
    _day_status(warehouse, [START])
    _publish(warehouse, with_case(START, "low_confidence"), [START], run_id="first")
    before = tables(warehouse)
    stamps = warehouse.query_df("SELECT published_at FROM kpi.fct_metric_daily")
    rerun = clean_day(START, 2.0).iloc[2:]
    store(
        warehouse,
        pd.concat([frame(_unread(START, "api_error_rate"), _unread(START, "p95_latency_ms")), rerun]),
        [START],
    )
    gate = run_gate(read_metric_values(warehouse, [START]), CATALOG, [START], unread_ceiling=0.2)
    assert gate.days[0].failed and list(gate.held_days) == [START]
    publish_gate(warehouse, gate, "second", NOW + timedelta(days=1))
    assert tables(warehouse) == before
    pd.testing.assert_frame_equal(warehouse.query_df("SELECT published_at FROM kpi.fct_metric_daily"), stamps)
    state, reason, run = _publish_status(warehouse)[START]
    assert (state, run) == ("held", "second")
    assert "extraction of 2026-07-01 failed: 2 of 4 metrics unread, above the ceiling 20%" in str(reason)


def test_rows_without_an_extraction_run_id_get_the_publishing_run(warehouse: Warehouse) -> None:
    rows = clean_day(START)
    rows["run_id"] = None
    _publish(warehouse, rows, [START], run_id="publish-run-7")
    assert set(warehouse.query_df("SELECT DISTINCT run_id FROM kpi.fct_metric_daily")["run_id"]) == {"publish-run-7"}


def test_catalog_publish_replaces_dimensions_and_okrs(warehouse: Warehouse) -> None:
    ensure_kpi_schema(warehouse)
    publish_catalog(warehouse, CATALOG)
    dims = warehouse.query_df("SELECT * FROM kpi.dim_metric WHERE metric_id = 'api_error_rate'")
    assert _rows(dims)[0] == [
        "api_error_rate",
        "Share of failed API requests",
        "percent",
        "lower_is_better",
        0,
        100,
        0.7,
        "catalog",
        "snapshot",  # the catalog says nothing about time: a snapshot, never summed, published as reported
        None,
        "semi_additive",
        "as_reported",
    ]
    krs = warehouse.query_df("SELECT objective_id, key_result_no, metric_id, baseline, target FROM kpi.okr_key_results")
    assert sorted(_rows(krs)) == [
        ["reliable_api", 1, "api_error_rate", 5.0, 1.0],
        ["reliable_api", 2, "p95_latency_ms", 400.0, 200.0],
    ]
    from kpi_pipeline.catalog import parse_catalog

    smaller = parse_catalog({**CATALOG_DATA, "metrics": CATALOG_DATA["metrics"][:2], "objectives": []})
    publish_catalog(warehouse, smaller)
    assert warehouse.scalar("SELECT COUNT(*) FROM kpi.dim_metric") == 2
    assert warehouse.scalar("SELECT COUNT(*) FROM kpi.okr_key_results") == 0


def test_the_filled_view_carries_the_last_value_forward_and_flags_it(warehouse: Warehouse) -> None:
    days = [START, START + timedelta(days=3)]
    _publish(warehouse, pd.concat([clean_day(days[0]), clean_day(days[1], 2.0)]), days)
    filled = warehouse.query_df(
        "SELECT day, value, value_day, is_carried FROM kpi.fct_metric_daily_filled "
        "WHERE metric_id = 'api_error_rate' ORDER BY day"
    )
    assert _rows(filled) == [
        [START, 3.0, START, False],
        [START + timedelta(days=1), 3.0, START, True],
        [START + timedelta(days=2), 3.0, START, True],
        [days[1], 6.0, days[1], False],
    ]


def test_okr_progress_paces_linearly_and_uses_the_catalog_thresholds(warehouse: Warehouse) -> None:
    end = date(2026, 9, 30)
    days = [end - timedelta(days=2), end - timedelta(days=1), end]
    rows = pd.concat(
        [
            frame(metric_row("api_error_rate", d, v), metric_row("p95_latency_ms", d, 200.0))
            for d, v in zip(days, [1.2, 1.6, 3.0], strict=True)
        ]
    )
    _publish(warehouse, rows, days)
    progress = warehouse.query_df(
        "SELECT day, progress, expected_progress, status FROM kpi.okr_progress "
        "WHERE metric_id = 'api_error_rate' ORDER BY day"
    )
    assert progress["status"].tolist() == ["on_track", "at_risk", "off_track"]
    assert progress["progress"].round(4).tolist() == [0.95, 0.85, 0.5]
    assert progress["expected_progress"].round(4).tolist() == [round(90 / 92, 4), round(91 / 92, 4), 1.0]


CHILD = """
import pickle, sys, time
from pathlib import Path
from datetime import UTC, datetime
from kpi_pipeline.warehouse import duckdb_engine, open_warehouse, postgres_engine
from kpi_pipeline.warehouse.publish import publish_gate

url, gate_file, marker = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
for cls in (duckdb_engine._DuckTransaction, postgres_engine._PgTransaction):
    def paused(self, table, df, _insert=cls.insert_df):
        written = _insert(self, table, df)
        if table.qualified == "kpi.metric_quarantine":  # the day's last insert, before COMMIT
            marker.write_text("inside the publish transaction")
            time.sleep(600)
        return written
    cls.insert_df = paused
publish_gate(open_warehouse(url), pickle.loads(gate_file.read_bytes()), "killed-run", datetime.now(UTC))
"""


@pytest.mark.slow
def test_kill_9_during_publish_leaves_the_previous_state_and_a_rerun_matches_a_clean_run(
    warehouse: Warehouse, warehouse_url: str, tmp_path: Path
) -> None:
    _publish(warehouse, clean_day(START), [START])
    before = tables(warehouse)
    store(warehouse, with_case(START, "low_confidence"), [START])
    gate_file = tmp_path / "gate.pickle"  # the gate runs here, so the child starts without importing GX
    gate_file.write_bytes(pickle.dumps(run_gate(read_metric_values(warehouse, [START]), CATALOG, [START])))
    marker = tmp_path / "inside"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, warehouse_url, str(gate_file), str(marker)],
        cwd=Path(__file__).resolve().parents[2],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else "child exited"
            assert time.monotonic() < deadline, "the child never reached the publish transaction"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    assert tables(warehouse) == before

    _publish(warehouse, with_case(START, "low_confidence"), [START])
    clean = open_warehouse(f"duckdb:///{tmp_path / 'clean.duckdb'}")
    clean.ensure_tables()
    _publish(clean, with_case(START, "low_confidence"), [START])
    history = "kpi.fct_metric_history"  # the one table that remembers the earlier publish, by design
    assert {k: v for k, v in tables(warehouse).items() if k != history} == {
        k: v for k, v in tables(clean).items() if k != history
    }
    assert tables(warehouse) != before
    reasons = [row[9] for row in tables(warehouse)[history] if row[0] == "p95_latency_ms"]
    assert reasons == ["published", "removed"]  # the killed publish left no version; the rerun one


def test_concurrent_publishes_of_one_day_on_postgres_leave_one_copy(postgres_url: str) -> None:
    wh = open_warehouse(postgres_url)
    wh.ensure_tables()
    gate = _publish(wh, with_case(START, "out_of_range"), [START])
    errors: list[BaseException] = []

    def publish(barrier: threading.Barrier) -> None:
        try:
            barrier.wait(10)
            publish_day(open_warehouse(postgres_url), gate, START, "concurrent", NOW)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    for _ in range(5):
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=publish, args=(barrier,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert errors == []
    counts = wh.query_df(
        "SELECT (SELECT COUNT(*) FROM kpi.fct_metric_daily) AS facts, "
        "(SELECT COUNT(*) FROM kpi.fct_metric_evidence) AS evidence, "
        "(SELECT COUNT(*) FROM kpi.metric_quarantine) AS quarantine"
    )
    assert counts.iloc[0].tolist() == [2, 2, 1]
