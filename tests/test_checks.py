"""The blocking, daily-partitioned quality check: per-day results; it blocks only on range-wide problems, a bad
day is held back while the others publish, and kpi_daily's `days_published` check reports the held day."""

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    ExecuteInProcessResult,
    asset,
    materialize,
)

from kpi_pipeline.assets.publish import kpi_daily
from kpi_pipeline.checks import METRIC_VALUES_KEY, metric_values_quality_gate
from kpi_pipeline.partitions import daily_partitions
from kpi_pipeline.resources.catalog import CatalogResource
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.warehouse import open_warehouse
from kpi_pipeline.warehouse.tables import METRIC_VALUES
from tests.quality.synthetic import PLANTED, clean_day, frame, with_case, write_catalog

DAY = date(2026, 7, 2)
UPSTREAM: dict[date, pd.DataFrame] = {}  # what the stand-in extraction writes for each day
Run = Callable[..., ExecuteInProcessResult]  # materializes metric_values, its check and kpi_daily


@asset(key=METRIC_VALUES_KEY, partitions_def=daily_partitions, backfill_policy=BackfillPolicy.single_run())
def metric_values(context: AssetExecutionContext, warehouse: WarehouseResource) -> None:
    """Stands in for extraction: writes the day's synthetic rows to extract.metric_values."""
    window = context.partition_time_window
    days = [window.start.date() + timedelta(days=i) for i in range((window.end - window.start).days)]
    rows = pd.concat([UPSTREAM[d] for d in days], ignore_index=True).assign(run_id=context.run_id)
    warehouse.get_warehouse().replace_days(METRIC_VALUES, days, rows)


@pytest.fixture
def run(duckdb_url: str, tmp_path: Path) -> Run:
    resources = {
        "warehouse": WarehouseResource(url=duckdb_url),
        "catalog": CatalogResource(path=str(write_catalog(tmp_path / "metrics.yaml"))),
    }

    def materialize_days(rows: dict[date, pd.DataFrame], **partition: object) -> ExecuteInProcessResult:
        UPSTREAM.clear()
        UPSTREAM.update(rows)
        return materialize(
            [metric_values, metric_values_quality_gate, kpi_daily],
            resources=resources,
            raise_on_error=False,
            **partition,  # type: ignore[arg-type]
        )

    return materialize_days


def _published(result: ExecuteInProcessResult) -> list[str]:
    return sorted("/".join(m.asset_key.path) for m in result.asset_materializations_for_node("kpi_daily"))


def _check(result: ExecuteInProcessResult, name: str) -> AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def test_held_back_rows_warn_and_the_rest_of_the_day_publishes(run: Run, duckdb_url: str) -> None:
    result = run({DAY: with_case(DAY, "out_of_range")}, partition_key=DAY.isoformat())
    assert result.success
    evaluation = _check(result, "quality_gate")
    assert (evaluation.passed, evaluation.severity, evaluation.partition) == (
        False,
        AssetCheckSeverity.WARN,
        "2026-07-02",
    )
    assert evaluation.metadata["rule:max_value"].value == 1
    assert evaluation.metadata["rule:min_confidence"].value == 0
    assert "| api_error_rate | 2026-07-02 | 250 |" in str(evaluation.metadata["held_back"].value)
    assert _published(result) == ["fct_metric_daily", "fct_metric_evidence", "metric_quarantine"]
    wh = open_warehouse(duckdb_url)
    assert wh.scalar("SELECT COUNT(*) FROM kpi.fct_metric_daily") == 2
    assert wh.scalar("SELECT run_id FROM kpi.metric_quarantine") == result.run_id


def test_a_clean_day_passes(run: Run) -> None:
    result = run({DAY: clean_day(DAY)}, partition_key=DAY.isoformat())
    evaluation = _check(result, "quality_gate")
    assert evaluation.passed and evaluation.metadata["quarantined"].value == 0
    assert _check(result, "days_published").passed


def test_a_day_over_the_quarantine_ceiling_is_held_back_and_the_run_reports_it(run: Run, duckdb_url: str) -> None:
    assert run({DAY: clean_day(DAY)}, partition_key=DAY.isoformat()).success
    wh = open_warehouse(duckdb_url)
    before = wh.query_df("SELECT * FROM kpi.fct_metric_daily ORDER BY metric_id")
    all_bad = frame(*(make(DAY) for make in PLANTED.values()))
    result = run({DAY: all_bad}, partition_key=DAY.isoformat())
    gate = _check(result, "quality_gate")
    assert (gate.passed, gate.severity) == (False, AssetCheckSeverity.WARN)  # a day's problem: does not block
    assert "quarantine rate of 2026-07-02 is 100%" in (gate.description or "")
    assert "| 2026-07-02 | held |" in str(gate.metadata["per_day"].value)
    days = _check(result, "days_published")
    assert (days.passed, days.severity) == (False, AssetCheckSeverity.ERROR)
    assert "2026-07-02 held: quarantine rate of 2026-07-02 is 100%" in (days.description or "")
    # the previous publish of the day stands untouched; the new rows wait in quarantine for review
    pd.testing.assert_frame_equal(wh.query_df("SELECT * FROM kpi.fct_metric_daily ORDER BY metric_id"), before)
    assert wh.scalar("SELECT COUNT(*) FROM kpi.metric_quarantine") == len(PLANTED)


def test_a_single_run_backfill_checks_the_range_once(run: Run, duckdb_url: str) -> None:
    days = [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
    rows = {days[0]: clean_day(days[0]), days[1]: with_case(days[1], "low_confidence"), days[2]: clean_day(days[2])}
    result = run(
        rows,
        tags={
            "dagster/asset_partition_range_start": days[0].isoformat(),
            "dagster/asset_partition_range_end": days[-1].isoformat(),
        },
    )
    assert result.success
    evaluation = _check(result, "quality_gate")
    assert evaluation.metadata["rows"].value == 12 and evaluation.metadata["quarantined"].value == 1
    assert open_warehouse(duckdb_url).scalar("SELECT COUNT(DISTINCT day) FROM kpi.fct_metric_daily") == 3
    assert AssetKey("fct_metric_daily") in {m.asset_key for m in result.asset_materializations_for_node("kpi_daily")}
