"""The gate routes each row: published, quarantined with every reason, or neither (an abstention).

Thresholds come from the catalog; range-wide structural problems block the run, and a day with a problem of its
own (an abnormal quarantine rate, too many unread answers, a structural problem in its rows) is held back.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from kpi_pipeline.catalog import parse_catalog
from kpi_pipeline.quality.gate import (
    GateResult,
    held_back_markdown,
    max_quarantine_rate,
    max_unread_rate,
    read_status,
    run_gate,
)
from tests.quality.synthetic import CATALOG, CATALOG_DATA, DAY, PLANTED, clean_day, frame, metric_row, with_case


def _reasons(gate: GateResult, metric_id: str) -> list[str]:
    (reasons,) = gate.quarantine.loc[gate.quarantine["metric_id"] == metric_id, "reasons"]
    return list(reasons)


def test_clean_day_publishes_readings_and_leaves_abstentions_out() -> None:
    gate = run_gate(clean_day(DAY), CATALOG, [DAY])
    assert gate.passed
    assert sorted(gate.publish["metric_id"]) == ["api_error_rate", "p95_latency_ms", "weekly_active_users"]
    assert gate.quarantine.empty
    (stats,) = gate.days
    assert (stats.rows, stats.published, stats.quarantined, stats.abstained) == (4, 3, 0, 1)


@pytest.mark.parametrize(
    ("case", "metric_id", "rules"),
    [
        ("out_of_range", "api_error_rate", ["max_value"]),
        ("low_confidence", "p95_latency_ms", ["min_confidence"]),
        ("ungrounded_quote", "weekly_active_users", ["min_confidence", "grounded"]),
        ("prompt_injection", "nps", ["min_confidence", "grounded", "prompt_injection"]),
    ],
)
def test_planted_bad_cases_are_quarantined_with_every_reason(case: str, metric_id: str, rules: list[str]) -> None:
    gate = run_gate(with_case(DAY, case), CATALOG, [DAY])
    assert gate.passed, gate.problems  # one of four rows held back: under the ceiling
    assert list(gate.quarantine["metric_id"]) == [metric_id]
    assert [r.split(":")[0] for r in _reasons(gate, metric_id)] == rules
    assert metric_id not in set(gate.publish["metric_id"])
    assert gate.rule_counts[rules[-1]] == 1


def test_reasons_quote_the_row_and_the_catalog_threshold() -> None:
    gate = run_gate(with_case(DAY, "low_confidence"), CATALOG, [DAY])
    assert _reasons(gate, "p95_latency_ms") == [
        "min_confidence: confidence 0.4 is below the metric's min_confidence 0.6"
    ]
    gate = run_gate(with_case(DAY, "out_of_range"), CATALOG, [DAY])
    assert _reasons(gate, "api_error_rate") == ["max_value: value 250 is above the metric's validation.max 100"]


def test_thresholds_come_from_the_catalog() -> None:
    relaxed = parse_catalog(
        {**CATALOG_DATA, "metrics": [{**m, "min_confidence": 0.3} for m in CATALOG_DATA["metrics"]]}
    )
    assert run_gate(with_case(DAY, "low_confidence"), relaxed, [DAY]).quarantine.empty
    bounded = parse_catalog(
        {
            **CATALOG_DATA,
            "metrics": [
                {**m, "validation": {"min": 0, "max": 1000}} if m["id"] == "weekly_active_users" else m
                for m in CATALOG_DATA["metrics"]
            ],
        }
    )
    gate = run_gate(clean_day(DAY), bounded, [DAY])
    assert _reasons(gate, "weekly_active_users") == ["max_value: value 1200 is above the metric's validation.max 1000"]


def test_value_below_validation_min_and_missing_evidence_are_held_back() -> None:
    rows = frame(
        metric_row("api_error_rate", DAY, -1.0),
        metric_row("p95_latency_ms", DAY, 300.0, evidence="[]"),
        metric_row("weekly_active_users", DAY, 10.0, evidence='[{"source_id": "s", "quote": "  "}]'),
        metric_row("nps", DAY, 10.0, evidence="not json"),
    )
    gate = run_gate(rows, CATALOG, [DAY], ceiling=1.0)
    assert _reasons(gate, "api_error_rate") == ["min_value: value -1 is below the metric's validation.min 0"]
    for metric_id in ("p95_latency_ms", "weekly_active_users", "nps"):
        assert [r.split(":")[0] for r in _reasons(gate, metric_id)] == ["evidence_present"]


def test_abstentions_are_not_judged_by_reading_rules() -> None:
    rows = frame(metric_row("nps", DAY, None, 0.0, grounded=False, evidence=None))
    gate = run_gate(rows, CATALOG, [DAY])
    assert gate.passed and gate.quarantine.empty and gate.publish.empty


def test_unknown_metric_and_confidence_outside_0_1_are_row_failures() -> None:
    rows = pd.concat(
        [clean_day(DAY), frame(metric_row("retired_metric", DAY, 1.0), metric_row("zz", date(2026, 7, 3), 1.0, 1.5))]
    )
    gate = run_gate(rows, CATALOG, [DAY, date(2026, 7, 3)], ceiling=1.0)
    assert _reasons(gate, "retired_metric") == [
        "known_metric: metric retired_metric is not in the catalog, so its thresholds are unknown"
    ]
    assert [r.split(":")[0] for r in _reasons(gate, "zz")] == ["known_metric", "confidence_range"]


def test_duplicate_rows_for_a_metric_and_day_fail_the_gate() -> None:
    rows = pd.concat([clean_day(DAY), frame(metric_row("api_error_rate", DAY, 3.5))])
    gate = run_gate(rows, CATALOG, [DAY])
    assert not gate.passed
    assert any(p.startswith("one_row_per_metric_day:") and "api_error_rate@2026-07-02" in p for p in gate.problems)


def test_null_required_columns_and_unknown_status_fail_the_gate() -> None:
    rows = clean_day(DAY)
    rows.loc[0, "model"] = None
    rows.loc[1, "status"] = "maybe"
    gate = run_gate(rows, CATALOG, [DAY])
    assert [p.split(":")[0] for p in gate.problems] == ["required_model", "known_status"]


def test_a_missing_column_fails_the_schema_rule() -> None:
    gate = run_gate(clean_day(DAY).drop(columns=["n_sources"]), CATALOG, [DAY])
    assert not gate.passed
    assert any(p.startswith("schema:") for p in gate.problems)


def test_a_day_without_rows_fails_the_gate() -> None:
    gate = run_gate(clean_day(DAY), CATALOG, [DAY, date(2026, 7, 3)])
    assert gate.problems == [
        "no_rows: extract.metric_values has no rows for 2026-07-03; materialize metric_values for that day first"
    ]


def test_quarantine_rate_above_the_ceiling_fails_only_that_day() -> None:
    other = date(2026, 7, 3)
    rows = pd.concat([with_case(DAY, "out_of_range"), with_case(other, "low_confidence")])
    assert run_gate(rows, CATALOG, [DAY, other], ceiling=0.25).passed  # 1 of 4 is at the ceiling, not above
    gate = run_gate(rows, CATALOG, [DAY, other], ceiling=0.2)
    assert len(gate.problems) == 2 and "quarantine rate of 2026-07-02 is 25% (1 of 4 rows)" in gate.problems[0]
    bad_day = pd.concat([PLANTED_DAY_ALL_BAD, clean_day(other)])
    gate = run_gate(bad_day, CATALOG, [DAY, other])
    assert [d.day for d in gate.days_over_ceiling] == [DAY]


PLANTED_DAY_ALL_BAD = frame(*(make(DAY) for make in PLANTED.values()))


def test_the_ceiling_is_configured_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KPI_MAX_QUARANTINE_RATE", raising=False)
    assert max_quarantine_rate() == 0.5
    monkeypatch.setenv("KPI_MAX_QUARANTINE_RATE", "0.2")
    assert max_quarantine_rate() == 0.2
    assert run_gate(with_case(DAY, "out_of_range"), CATALOG, [DAY]).max_quarantine_rate == 0.2
    for bad in ("lots", "1.5"):
        monkeypatch.setenv("KPI_MAX_QUARANTINE_RATE", bad)
        with pytest.raises(ValueError, match=r"KPI_MAX_QUARANTINE_RATE=.* is not a share"):
            max_quarantine_rate()


def test_held_back_rows_render_as_a_markdown_table() -> None:
    gate = run_gate(with_case(DAY, "out_of_range"), CATALOG, [DAY])
    table = held_back_markdown(gate)
    assert table.splitlines()[0] == "| metric_id | day | value | confidence | reasons |"
    assert "| api_error_rate | 2026-07-02 | 250 | 0.9 | max_value: value 250 is above" in table
    assert held_back_markdown(run_gate(clean_day(DAY), CATALOG, [DAY])) == "_no rows held back_"


def _unread(day: date, metric_id: str) -> dict:
    return metric_row(metric_id, day, None, 0.0, status="unread", reasoning="not read: slack (the model refused)")


def test_an_unread_value_is_neither_published_nor_quarantined_nor_an_abstention() -> None:
    rows = clean_day(DAY)
    rows = pd.concat([rows[rows["metric_id"] != "api_error_rate"], frame(_unread(DAY, "api_error_rate"))])
    gate = run_gate(rows, CATALOG, [DAY], unread_ceiling=0.5)
    assert gate.passed and gate.held_days == {}
    assert "api_error_rate" not in set(gate.publish["metric_id"]) and gate.quarantine.empty
    (stats,) = gate.days
    assert (stats.published, stats.abstained, stats.unread, stats.unread_metrics) == (2, 1, 1, ("api_error_rate",))


def test_a_day_with_too_many_unread_values_fails_and_is_held_while_the_others_publish() -> None:
    other = date(2026, 7, 3)
    unread_day = frame(
        *(_unread(DAY, m) for m in ("api_error_rate", "p95_latency_ms")), *clean_day(DAY).to_dict("records")[2:]
    )
    gate = run_gate(pd.concat([unread_day, clean_day(other)]), CATALOG, [DAY, other], unread_ceiling=0.2)
    assert not gate.blocked and list(gate.held_days) == [DAY]
    assert (
        "extraction of 2026-07-02 failed: 2 of 4 metrics unread, above the ceiling 20% (KPI_MAX_UNREAD_RATE)"
        in (gate.held_days[DAY])
    )
    assert set(gate.publish["day"]) == {other} and gate.quarantine.empty  # nothing of the failed day is written
    assert gate.days[0].failed and not gate.days[1].failed


def test_a_structural_problem_in_one_days_rows_holds_only_that_day() -> None:
    other = date(2026, 7, 3)
    bad = clean_day(DAY)
    bad.loc[0, "model"] = None
    gate = run_gate(pd.concat([bad, clean_day(other)]), CATALOG, [DAY, other])
    assert not gate.blocked and list(gate.held_days) == [DAY] and gate.held_days[DAY].startswith("required_model:")
    assert set(gate.publish["day"]) == {other}
    held = gate.quarantine[gate.quarantine["day"] == DAY]  # the held day's values wait for review
    assert len(held) == 3 and all(r[-1].startswith("day_held: required_model:") for r in held["reasons"])


def test_duplicates_make_the_whole_range_untrustworthy() -> None:
    other = date(2026, 7, 3)
    rows = pd.concat([clean_day(DAY), frame(metric_row("api_error_rate", DAY, 3.5)), clean_day(other)])
    gate = run_gate(rows, CATALOG, [DAY, other])
    assert gate.blocked and [p.split(":")[0] for p in gate.structural] == ["one_row_per_metric_day"]


def test_the_unread_ceiling_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KPI_MAX_UNREAD_RATE", raising=False)
    assert max_unread_rate() == 0.2
    monkeypatch.setenv("KPI_MAX_UNREAD_RATE", "0.5")
    assert max_unread_rate() == 0.5 and run_gate(clean_day(DAY), CATALOG, [DAY]).max_unread_rate == 0.5
    monkeypatch.setenv("KPI_MAX_UNREAD_RATE", "lots")
    with pytest.raises(ValueError, match=r"KPI_MAX_UNREAD_RATE='lots' is not a share: write a number from 0 to 1"):
        max_unread_rate()


def test_read_status_is_complete_partial_or_failed() -> None:
    assert [read_status(10, n, 0.2) for n in (0, 2, 3)] == ["complete", "partial", "failed"]
