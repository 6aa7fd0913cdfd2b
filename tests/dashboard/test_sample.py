"""The synthetic published quarter keeps the kpi contract, so tests built on it test real shapes."""

from __future__ import annotations

from kpi_pipeline.dashboard.sample import sample_frames
from kpi_pipeline.warehouse.tables import (
    FCT_METRIC_DAILY,
    FCT_METRIC_EVIDENCE,
    LLM_CALLS,
    METRIC_QUARANTINE,
    OKR_KEY_RESULTS,
)


def test_rows_follow_the_kpi_contract() -> None:
    frames = sample_frames(n_metrics=8)
    facts, evidence, held = frames[FCT_METRIC_DAILY], frames[FCT_METRIC_EVIDENCE], frames[METRIC_QUARANTINE]
    assert not facts.duplicated(["metric_id", "day"]).any()
    published = set(zip(facts.metric_id, facts.day, strict=True))
    assert published.isdisjoint(zip(held.metric_id, held.day, strict=True))  # never both published and held back
    assert set(zip(evidence.metric_id, evidence.day, strict=True)) == published  # every value has its quotes
    assert (facts[facts.status == "conflict"].n_sources > 1).all()
    assert set(frames[OKR_KEY_RESULTS].metric_id) == set(facts.metric_id)
    assert len(frames[LLM_CALLS]) == 92 * 3


def test_same_arguments_same_rows() -> None:
    first, second = sample_frames(n_metrics=3), sample_frames(n_metrics=3)
    assert all(first[t].equals(second[t]) for t in first)
    longer = sample_frames(n_metrics=50, n_days=365)[FCT_METRIC_DAILY]
    assert longer.metric_id.nunique() == 50 and longer.day.nunique() == 365
