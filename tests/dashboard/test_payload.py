"""The page's data: compact, aligned series that carry the published numbers unchanged."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from kpi_pipeline.dashboard.data import DashboardData, load_dashboard_data
from kpi_pipeline.dashboard.payload import build_payload, move_tone, payload_json
from kpi_pipeline.warehouse import Warehouse


def _data(wh: Warehouse) -> DashboardData:
    return load_dashboard_data(wh)


def test_series_hold_the_published_values_by_day_offset(sample_warehouse: Warehouse) -> None:
    data = _data(sample_warehouse)
    payload = build_payload(data)
    start = date.fromisoformat(payload["window"]["start"])
    metric = next(m for m in payload["metrics"] if m["id"] == "api_error_rate")
    facts = data.facts[data.facts.metric_id == "api_error_rate"]
    points = metric["points"]
    assert {len(points[k]) for k in ("d", "v", "t", "c", "s", "n", "info")} == {len(facts)}
    days = [(d - start).days for d in facts.day]
    assert points["d"] == days
    assert points["v"] == list(facts.value)
    assert points["c"] == list(facts.confidence)


def test_each_point_carries_its_evidence_reasoning_and_conflict(sample_warehouse: Warehouse) -> None:
    data = _data(sample_warehouse)
    payload = build_payload(data)
    strings = payload["strings"]
    conflict_day = data.facts[data.facts.status == "conflict"].iloc[0]
    metric = next(m for m in payload["metrics"] if m["id"] == conflict_day.metric_id)
    offset = (conflict_day.day - date.fromisoformat(payload["window"]["start"])).days
    model, prompt, run, published, reasoning, evidence, conflict, restated = metric["points"]["info"][
        metric["points"]["d"].index(offset)
    ]
    assert (strings[model], strings[prompt], strings[run]) == (
        conflict_day.model,
        conflict_day.prompt_version,
        conflict_day.run_id,
    )
    assert strings[published].startswith("2026-09-30T06:00:00")
    quotes = data.evidence[(data.evidence.metric_id == metric["id"]) & (data.evidence.day == conflict_day.day)]
    assert [e[3] for e in evidence] == list(quotes.quote)
    assert reasoning.startswith("conflict:")
    assert len(conflict) == 2 and conflict[0]["value"] == conflict_day.value
    assert all(side["evidence"] for side in conflict)
    assert restated is None  # the sample quarter was published once


def test_quarantined_days_carry_reasons_and_extracted_evidence(sample_warehouse: Warehouse) -> None:
    data = _data(sample_warehouse)
    payload = build_payload(data)
    held = sum(len(m["quarantine"]["d"]) for m in payload["metrics"])
    assert held == len(data.quarantine) > 0
    metric = next(m for m in payload["metrics"] if m["quarantine"]["d"])
    reasons, evidence, _, reasoning = metric["quarantine"]["info"][0]
    assert reasons and all(":" in r for r in reasons)
    assert evidence and evidence[0][0] in {"slack", "jira", "docs"}
    assert reasoning


def test_okr_tree_and_costs(sample_warehouse: Warehouse) -> None:
    payload = build_payload(_data(sample_warehouse), generated_at=datetime(2026, 10, 1, tzinfo=UTC))
    assert payload["generated_at"] == "2026-10-01T00:00:00+00:00"
    assert [o["id"] for o in payload["objectives"]] == sorted(o["id"] for o in payload["objectives"])
    key_results = [kr for o in payload["objectives"] for kr in o["key_results"]]
    assert len(key_results) == 8
    assert all(kr["status"] in {"on_track", "at_risk", "off_track"} and kr["day"] == "2026-09-30" for kr in key_results)
    api = next(m for m in payload["metrics"] if m["id"] == "api_error_rate")
    assert api["objectives"] == ["reliable_api"]
    assert payload["window"] == {"start": "2026-07-01", "end": "2026-09-30"}
    assert len(payload["costs"]["d"]) == len(payload["costs"]["cost_usd"]) == 92
    assert payload["costs"]["quarter"]["calls"] == 92 * 3


def test_json_is_safe_inside_a_script_element(sample_warehouse: Warehouse) -> None:
    data = _data(sample_warehouse)
    hostile = data.evidence.copy()
    hostile.loc[0, "quote"] = "</script><script>alert(1)</script> & <!--"
    text = payload_json(build_payload(replace(data, evidence=hostile)))
    assert "</" not in text and "<!--" not in text and "<script" not in text
    assert "</script><script>alert(1)</script> & <!--" in json.dumps(json.loads(text), ensure_ascii=False)


def test_missing_numbers_and_bad_json_do_not_break_the_payload(sample_warehouse: Warehouse) -> None:
    data = _data(sample_warehouse)
    quarantine = data.quarantine.copy()
    quarantine.loc[0, "value"] = float("nan")
    quarantine.loc[0, "reasons"] = "not json"
    quarantine.loc[0, "evidence"] = None
    metric = build_payload(replace(data, quarantine=quarantine))
    held = next(m for m in metric["metrics"] if m["id"] == quarantine.loc[0, "metric_id"])["quarantine"]
    assert held["v"][0] is None
    assert held["info"][0][0] == ["not json"] and held["info"][0][1] == []
    assert isinstance(pd.Timestamp(metric["generated_at"]), pd.Timestamp)


def _moves(metric: dict) -> list[tuple[float, float, str]]:
    """(previous value, value, tone) for each published point after the first."""
    v, t = metric["points"]["v"], metric["points"]["t"]
    return [(v[i - 1], v[i], t[i]) for i in range(1, len(v))]


def test_a_falling_lower_is_better_metric_is_a_good_move_and_a_rising_one_bad(sample_warehouse: Warehouse) -> None:
    payload = build_payload(_data(sample_warehouse))
    metric = next(m for m in payload["metrics"] if m["id"] == "api_error_rate")
    assert metric["direction"] == "lower_is_better" and metric["points"]["t"][0] is None
    moves = _moves(metric)
    assert {tone for before, after, tone in moves if after < before} == {"good"}
    assert {tone for before, after, tone in moves if after > before} == {"bad"}
    assert {tone for before, after, tone in moves if after == before} <= {"flat"}
    rising = next(m for m in payload["metrics"] if m["id"] == "mrr_usd")
    assert {tone for before, after, tone in _moves(rising) if after > before} == {"good"}


def test_a_metric_of_unknown_direction_moves_neutrally(sample_warehouse: Warehouse) -> None:
    data = _data(sample_warehouse)
    metrics = data.metrics.copy()
    metrics.loc[metrics.metric_id == "api_error_rate", "direction"] = "unknown"
    payload = build_payload(replace(data, metrics=metrics))
    metric = next(m for m in payload["metrics"] if m["id"] == "api_error_rate")
    assert metric["direction"] == "unknown"
    assert {tone for before, after, tone in _moves(metric) if after != before} == {"neutral"}


@pytest.mark.parametrize(
    ("direction", "before", "after", "tone"),
    [
        ("lower_is_better", 3.0, 2.0, "good"),
        ("lower_is_better", 2.0, 3.0, "bad"),
        ("higher_is_better", 2.0, 3.0, "good"),
        ("higher_is_better", 3.0, 2.0, "bad"),
        ("unknown", 3.0, 2.0, "neutral"),
        ("unknown", 2.0, 3.0, "neutral"),
        ("lower_is_better", 2.0, 2.0, "flat"),
        ("lower_is_better", None, 2.0, None),
    ],
)
def test_the_tone_of_a_move_follows_the_direction(
    direction: str, before: float | None, after: float, tone: str | None
) -> None:
    assert move_tone(direction, before, after) == tone
