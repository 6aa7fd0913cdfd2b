"""extract.llm_calls keeps every call ever billed: a rerun adds its calls, totals never decrease, and a run's
usage (backfill progress) is read from its own rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from kpi_pipeline.catalog import Catalog
from kpi_pipeline.extraction.pipeline import extract_days
from kpi_pipeline.orchestration.backfill import run_usage
from kpi_pipeline.orchestration.estimate import raw_days_from_sources
from kpi_pipeline.testing.anthropic_server import serve_anthropic
from kpi_pipeline.warehouse import Warehouse
from kpi_pipeline.warehouse.extract_io import write_day
from tests.orchestration.test_estimate import KEY, claude, demo_days, demo_sources

DAY = date(2026, 7, 2)
NOW = datetime(2026, 7, 3, 6, 0, tzinfo=UTC)


def totals(wh: Warehouse) -> tuple[int, float]:
    df = wh.query_df("SELECT COUNT(*) AS n, coalesce(SUM(cost_usd), 0) AS c FROM extract.llm_calls")
    return int(df.at[0, "n"]), float(df.at[0, "c"])


def test_reruns_add_their_calls_and_the_totals_never_decrease(
    warehouse: Warehouse, dataset: Path, catalog: Catalog
) -> None:
    raw = raw_days_from_sources(*demo_sources(dataset), demo_days(1, DAY))
    seen: list[tuple[int, float]] = [totals(warehouse)]
    runs = {}
    with serve_anthropic(api_key=KEY) as server:
        for n in range(3):  # no response cache: every rerun is billed again
            result = extract_days(raw, catalog, claude(server))[DAY]
            write_day(warehouse, DAY, result, f"run-{n}", NOW + timedelta(hours=n))
            runs[f"run-{n}"] = (len(result.calls), float(result.calls["cost_usd"].sum()))
            seen.append(totals(warehouse))
    assert all(later[0] > earlier[0] and later[1] > earlier[1] for earlier, later in pairwise(seen))
    assert seen[-1][0] == sum(n for n, _ in runs.values())
    assert seen[-1][1] == pytest.approx(sum(c for _, c in runs.values()))
    for run_id, (_, cost) in runs.items():  # a run's usage is its own rows, never an earlier run's
        assert float(run_usage(warehouse, [run_id], [DAY]).at[0, "c"]) == pytest.approx(cost)
    values_runs = set(warehouse.query_df("SELECT DISTINCT run_id FROM extract.metric_values")["run_id"])
    assert values_runs == {"run-2"}  # the readings are the latest run's; the money is everyone's
