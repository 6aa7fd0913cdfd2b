"""Anomaly triage: robust z over the previous 28 days flags planted jumps and labels them by what backs them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from kpi_pipeline.insights.anomaly import (
    LIKELY_EXTRACTION,
    LIKELY_REAL,
    MIN_HISTORY,
    Point,
    find_anomalies,
    robust_z,
)

START = date(2026, 7, 1)
NOISE = (0.0, 0.2, -0.1, 0.1, -0.2, 0.3, -0.3, 0.1, 0.0, -0.1)
BOTH = frozenset({"slack", "jira"})


def history(n: int = 20, level: float = 10.0) -> list[Point]:
    """A quiet series: `level` plus a little noise, read by one model and prompt from two source types."""
    return [
        Point(START + timedelta(days=i), level + NOISE[i % len(NOISE)], "ok", "offline-1", "v3", BOTH, "cat-a")
        for i in range(n)
    ]


def with_jump(points: list[Point], **change: object) -> list[Point]:
    last = points[-1]
    jump = replace(last, day=last.day + timedelta(days=1), value=30.0, **change)  # type: ignore[arg-type]
    return [*points, jump]


def test_a_jump_two_agreeing_source_types_back_is_likely_real() -> None:
    series = with_jump(history())
    [anomaly] = find_anomalies({"signups": series})
    assert (anomaly.metric_id, anomaly.day, anomaly.label) == ("signups", series[-1].day, LIKELY_REAL)
    assert anomaly.z > 3.5 and anomaly.median == pytest.approx(10.0, abs=0.1)
    assert "jira, slack" in anomaly.reason


def test_a_jump_resting_on_one_source_type_is_likely_extraction() -> None:
    [anomaly] = find_anomalies({"signups": with_jump(history(), source_types=frozenset({"slack"}))})
    assert anomaly.label == LIKELY_EXTRACTION and "one source type (slack)" in anomaly.reason


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"model": "claude-x"}, "model offline-1 -> claude-x"),
        ({"prompt_version": "v4"}, "prompt version v3 -> v4"),
        ({"catalog_version": "cat-b"}, "catalog version cat-a -> cat-b"),
    ],
)
def test_a_jump_that_coincides_with_a_version_change_is_likely_extraction_even_when_sources_agree(
    change: dict[str, str], named: str
) -> None:
    [anomaly] = find_anomalies({"signups": with_jump(history(), **change)})
    assert anomaly.label == LIKELY_EXTRACTION and named in anomaly.reason


def test_a_jump_whose_sources_disagreed_is_likely_extraction() -> None:
    [anomaly] = find_anomalies({"signups": with_jump(history(), status="conflict")})
    assert anomaly.label == LIKELY_EXTRACTION and "conflict" in anomaly.reason


def test_ordinary_noise_and_a_drop_back_are_not_flagged_but_a_downward_jump_is() -> None:
    assert find_anomalies({"signups": history(40)}) == []
    drop = history()
    drop.append(replace(drop[-1], day=drop[-1].day + timedelta(days=1), value=-5.0))
    [anomaly] = find_anomalies({"signups": drop})
    assert anomaly.z < -3.5


def test_too_little_history_is_not_scored() -> None:
    short = with_jump(history(MIN_HISTORY - 1))
    assert find_anomalies({"signups": short}) == []
    assert len(find_anomalies({"signups": with_jump(history(MIN_HISTORY))})) == 1


def test_only_the_previous_28_days_count_as_history() -> None:
    old = history(20)
    gap = [replace(p, day=p.day + timedelta(days=60)) for p in history(5)]  # 5 recent values only
    assert find_anomalies({"signups": with_jump(old + gap)}) == []


def test_only_the_days_asked_for_are_reported() -> None:
    series = with_jump(history())
    assert find_anomalies({"signups": series}, days=[series[-2].day]) == []
    assert len(find_anomalies({"signups": series}, days=[series[-1].day])) == 1


def test_the_scale_falls_back_to_the_mean_deviation_and_a_flat_window_is_not_scored() -> None:
    mostly_flat = [10.0] * 15 + [11.0, 9.0]
    z = robust_z(20.0, mostly_flat)
    assert z is not None and z == pytest.approx(10.0 / ((2 / 17) * 1.2533))
    assert robust_z(20.0, [10.0] * 20) is None
