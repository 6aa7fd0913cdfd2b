"""Synthesis: authority then recency decides, disagreement is a visible conflict, silence is `abstained`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from kpi_pipeline.catalog import parse_catalog
from kpi_pipeline.extraction.synthesis import Reading, disagree, synthesize

DAY = date(2026, 7, 3)
METRIC = parse_catalog(
    {"metrics": [{"id": "api_error_rate", "description": "Failed requests", "unit": "percent", "tolerance": 0.02}]}
).metric("api_error_rate")
AUTHORITY = {"docs": 0.9, "jira": 0.8, "slack": 0.6}


def reading(
    source_type: str, value: float | None, confidence: float = 0.9, hour: int = 9, grounded: bool = True
) -> Reading:
    return Reading(
        metric_id="api_error_rate",
        day=DAY,
        source_type=source_type,
        value=value,
        confidence=confidence if value is not None else 0.0,
        model_confidence=confidence,
        evidence=({"source_id": f"{source_type}:x", "quote": f"error rate {value}%", "url": None},),
        grounded=grounded and value is not None,
        observed_at=datetime(2026, 7, 3, hour, tzinfo=UTC),
        model="offline-extractor-v1",
        prompt_version="p1",
    )


def test_single_reading_is_ok_with_its_confidence() -> None:
    result = synthesize(METRIC, DAY, [reading("slack", 3.4, 0.85)], AUTHORITY)
    assert (result.status, result.value, result.confidence, result.n_sources) == ("ok", 3.4, 0.85, 1)
    assert result.grounded and result.conflict is None
    assert result.evidence[0]["source_type"] == "slack"


def test_agreement_raises_confidence() -> None:
    alone = synthesize(METRIC, DAY, [reading("docs", 3.4, 0.8)], AUTHORITY)
    both = synthesize(METRIC, DAY, [reading("docs", 3.4, 0.8), reading("slack", 3.41, 0.8)], AUTHORITY)
    assert both.status == "ok" and both.confidence > alone.confidence and both.n_sources == 2
    assert {e["source_type"] for e in both.evidence} == {"docs", "slack"}


def test_disagreement_is_a_conflict_won_by_authority_with_both_sides_kept() -> None:
    result = synthesize(METRIC, DAY, [reading("slack", 4.0, hour=17), reading("docs", 3.4, hour=0)], AUTHORITY)
    assert result.status == "conflict"
    assert result.value == 3.4
    assert result.conflict is not None
    assert [(side["source_type"], side["value"]) for side in result.conflict] == [("docs", 3.4), ("slack", 4.0)]
    assert result.confidence < 0.9
    assert "slack (4)" in result.reasoning


def test_recency_breaks_ties_between_equal_authority() -> None:
    result = synthesize(METRIC, DAY, [reading("jira", 3.0, hour=9), reading("jira", 3.5, hour=15)], AUTHORITY)
    assert result.value == 3.5


def test_grounded_reading_beats_an_ungrounded_one_of_higher_authority() -> None:
    result = synthesize(METRIC, DAY, [reading("docs", 9.9, grounded=False), reading("slack", 3.4)], AUTHORITY)
    assert (result.status, result.value) == ("ok", 3.4)


def test_only_ungrounded_readings_are_ungrounded() -> None:
    result = synthesize(METRIC, DAY, [reading("slack", 3.4, 0.3, grounded=False)], AUTHORITY)
    assert result.status == "ungrounded" and not result.grounded and result.value == 3.4


def test_all_abstained_is_abstained_not_low_confidence() -> None:
    result = synthesize(METRIC, DAY, [reading("slack", None), reading("docs", None)], AUTHORITY)
    assert (result.status, result.value, result.confidence, result.n_sources) == ("abstained", None, 0.0, 0)
    assert "docs, slack" in result.reasoning


def test_no_readings_at_all_is_abstained() -> None:
    assert synthesize(METRIC, DAY, [], AUTHORITY).status == "abstained"


INJECTION = {"flag": "suspected_prompt_injection", "source_id": "slack:C1:9", "detail": "reads like instructions"}


def test_day_issues_mark_an_abstention() -> None:
    result = synthesize(METRIC, DAY, [reading("slack", None)], AUTHORITY, [INJECTION])
    assert (result.status, result.value) == ("abstained", None)
    assert result.grounding_issues == (INJECTION,)
    assert "set aside slack:C1:9 (suspected prompt injection)" in result.reasoning


def test_day_issues_mark_a_reading_whatever_it_says() -> None:
    ungrounded = replace(reading("slack", 3.4, 0.3, grounded=False), grounding_issues=({"flag": "no_evidence"},))
    result = synthesize(METRIC, DAY, [ungrounded], AUTHORITY, [INJECTION])
    assert result.value == 3.4
    assert result.grounding_issues == ({"flag": "no_evidence"}, INJECTION)
    assert synthesize(METRIC, DAY, [ungrounded], AUTHORITY).grounding_issues == ({"flag": "no_evidence"},)


@pytest.mark.parametrize(
    ("a", "b", "tolerance", "expected"),
    [(100, 101.9, 0.02, False), (100, 103, 0.02, True), (3, 3, 0.0, False), (3, 4, 0.0, True)],
)
def test_disagree_is_relative(a: float, b: float, tolerance: float, expected: bool) -> None:
    assert disagree(a, b, tolerance) is expected


def test_an_unread_group_makes_the_value_unread_even_when_another_group_answered() -> None:
    unread = replace(reading("jira", None), unread=True, reasoning="not read: the model refused: policy")
    result = synthesize(METRIC, DAY, [reading("docs", 3.4), unread], AUTHORITY)
    assert (result.status, result.value, result.confidence, result.n_sources) == ("unread", None, 0.0, 0)
    assert result.reasoning == "not read: jira (the model refused: policy); read but not decided without it: docs 3.4"
    assert unread.status == "unread"


def test_silence_from_the_model_is_still_an_abstention() -> None:
    result = synthesize(METRIC, DAY, [reading("docs", None), reading("slack", None)], AUTHORITY)
    assert (result.status, result.reasoning) == ("abstained", "not enough evidence in docs, slack")


def _of(r: Reading, day: date) -> Reading:
    return replace(r, period_start=day, period_end=day)


def test_by_period_readings_of_an_earlier_period_are_set_aside_not_a_conflict() -> None:
    by_period = METRIC.model_copy(update={"series_rule": "by_period"})
    yesterday = _of(reading("docs", 3.9), date(2026, 7, 2))  # more authoritative, but about the day before
    today = _of(reading("slack", 3.4, 0.85), DAY)
    result = synthesize(by_period, DAY, [yesterday, today], AUTHORITY)
    assert (result.status, result.value, result.confidence, result.period_end) == ("ok", 3.4, 0.85, DAY)
    assert "readings of earlier periods set aside: docs 3.9 (2026-07-02)" in result.reasoning
    # as reported, the two compete: the more authoritative wins and the other is a visible conflict
    reported = synthesize(METRIC, DAY, [yesterday, today], AUTHORITY)
    assert (reported.status, reported.value) == ("conflict", 3.9)
