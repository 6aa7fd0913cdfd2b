"""The KPI definitions are the one source of the demo catalog and of the true series."""

from __future__ import annotations

import random
from pathlib import Path

from kpi_pipeline.catalog import load_catalog, parse_catalog
from kpi_pipeline.demo.kpis import KPIS, OBJECTIVES, catalog_dict, catalog_yaml, demo_days, snap, true_series

ROOT_CATALOG = Path(__file__).resolve().parents[2] / "metrics.yaml"


def test_root_metrics_yaml_is_exactly_what_the_generator_writes() -> None:
    assert ROOT_CATALOG.read_text() == catalog_yaml(), (
        "metrics.yaml drifted from kpi_pipeline/demo/kpis.py: run `python -m kpi_pipeline.demo --write-catalog "
        "metrics.yaml`"
    )


def test_the_catalog_carries_every_kpi_definition() -> None:
    catalog = load_catalog(ROOT_CATALOG)
    assert catalog.metric_ids == [k.id for k in KPIS]
    for k in KPIS:
        metric = catalog.metric(k.id)
        assert (metric.unit, metric.aliases, metric.source_types) == (k.unit, k.aliases, k.sources)
        assert (metric.validation.min, metric.validation.max) == (k.min_value, k.max_value)
        assert metric.direction == k.direction


def test_at_least_ten_kpis_and_two_objectives_for_the_quarter() -> None:
    catalog = parse_catalog(catalog_dict())
    assert len(catalog.metrics) >= 10
    assert 2 <= len(catalog.objectives) == len(OBJECTIVES) <= 3
    assert {o.quarter for o in catalog.objectives} == {"2026-Q3"}


def test_true_values_sit_on_the_grain_and_inside_validation() -> None:
    rng = random.Random(1)
    for k in KPIS:
        series = true_series(k, rng, set())
        assert list(series) == demo_days()
        for value in series.values():
            assert k.min_value <= value <= k.max_value
            assert snap(value, k.grain) == value


def test_snap_removes_float_dust() -> None:
    assert snap(3.4000000000000004, 0.1) == 3.4
    assert snap(99.874, 0.01) == 99.87
    assert snap(12449, 100) == 12400
