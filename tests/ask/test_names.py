"""Metrics are named by id, alias or description words; objectives by id or title; an ambiguous title names none."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi_pipeline.ask.data import MetricInfo
from kpi_pipeline.ask.names import as_catalog_metrics, metrics_named, objective_named
from kpi_pipeline.catalog import load_catalog

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "metrics.yaml")
PUBLISHED = {m.id: MetricInfo(m.id, m.description, m.unit, m.direction) for m in CATALOG.metrics}
METRICS = as_catalog_metrics(PUBLISHED, {m.id: m.aliases for m in CATALOG.metrics})
TITLES = {o.id: o.title for o in CATALOG.objectives}


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("api_error_rate on 2026-07-02", ["api_error_rate"]),
        ("what was the 5xx rate?", ["api_error_rate"]),
        ("compare WAU and MRR", ["weekly_active_users", "mrr_usd"]),
        ("how many paying customers did we lose", ["customer_churn_rate"]),
        ("what is our stock price", []),
    ],
)
def test_metrics_named(question: str, named: list[str]) -> None:
    assert metrics_named(question, METRICS) == named


def test_without_aliases_a_metric_is_still_named_by_its_id_words() -> None:
    bare = as_catalog_metrics(PUBLISHED, {})
    assert metrics_named("what was the 5xx rate?", bare) == []
    assert metrics_named("latest p95 latency", bare) == ["p95_latency_ms"]


def test_objectives_by_id_or_title_words() -> None:
    assert objective_named("how is reliable_api doing", TITLES) == "reliable_api"
    assert objective_named("progress of 'grow revenue without buying it'", TITLES) == "grow_revenue"
    assert objective_named("how is the weather", TITLES) is None


def test_two_objectives_that_fit_equally_name_neither() -> None:
    titles = {"a": "Grow revenue in Europe", "b": "Grow revenue in Asia"}
    assert objective_named("how is grow revenue doing", titles) is None
