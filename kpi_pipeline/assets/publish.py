"""Publish assets: the catalog and each day's gated values into the `kpi` schema (the BI contract).

kpi_daily depends on metric_values, whose blocking check `quality_gate` must pass first in the same run.
It re-applies the gate itself and refuses to publish when the gate fails, so a run that skipped the
check still cannot publish rule-breaking rows. Backfills run as one run over the range, like ingestion.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    BackfillPolicy,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from kpi_pipeline.assets.partition_days import days_of, span
from kpi_pipeline.checks import METRIC_VALUES_KEY, gate_metadata
from kpi_pipeline.orchestration.versions import CATALOG_CODE_VERSION
from kpi_pipeline.partitions import daily_partitions
from kpi_pipeline.quality.gate import run_gate
from kpi_pipeline.resources.catalog import CatalogResource
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.warehouse.publish import (
    CATALOG_TABLES,
    DAY_TABLES,
    FILLED,
    OKR_PROGRESS,
    VIEWS,
    ensure_kpi_schema,
    publish_catalog,
    publish_gate,
    read_metric_values,
)
from kpi_pipeline.warehouse.tables import FCT_METRIC_DAILY, OKR_KEY_RESULTS, OKR_OBJECTIVES

GROUP = "publish"
VIEW_SPEC: dict[str, Any] = {"kinds": {"sql", "view"}, "group_name": GROUP}


@multi_asset(
    specs=[
        AssetSpec(
            AssetKey(t.name),
            deps=[METRIC_VALUES_KEY],
            description=t.doc,
            kinds={"sql"},
            group_name=GROUP,
            code_version=CATALOG_CODE_VERSION,
        )
        for t in DAY_TABLES
    ],
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    can_subset=False,
)
def kpi_daily(
    context: AssetExecutionContext, warehouse: WarehouseResource, catalog: CatalogResource
) -> Iterator[MaterializeResult]:
    """Publish each day in one transaction: passing values, their evidence, and the quarantine."""
    days = days_of(context)
    wh = warehouse.get_warehouse()
    with wh.session():  # one connection for the whole range, one transaction per day
        ensure_kpi_schema(wh)
        gate = run_gate(read_metric_values(wh, days), catalog.load(), days)
        if not gate.passed:
            raise Failure(
                description=f"quality gate failed for {span(days)}; nothing published: " + "; ".join(gate.problems),
                metadata=gate_metadata(gate),
            )
        written = publish_gate(wh, gate, run_id=context.run_id, published_at=datetime.now(UTC))
    for table in DAY_TABLES:
        yield MaterializeResult(
            asset_key=AssetKey(table.name),
            metadata={"days": span(days), "rows": MetadataValue.int(written[table.qualified])},
        )


@multi_asset(
    specs=[
        AssetSpec(
            AssetKey(t.name), description=t.doc, kinds={"sql"}, group_name=GROUP, code_version=CATALOG_CODE_VERSION
        )
        for t in CATALOG_TABLES
    ],
    can_subset=False,
)
def kpi_catalog(warehouse: WarehouseResource, catalog: CatalogResource) -> Iterator[MaterializeResult]:
    """The catalog's metrics, objectives and key results, replaced together."""
    wh = warehouse.get_warehouse()
    ensure_kpi_schema(wh)
    written = publish_catalog(wh, catalog.load())
    for table in CATALOG_TABLES:
        yield MaterializeResult(
            asset_key=AssetKey(table.name), metadata={"rows": MetadataValue.int(written[table.qualified])}
        )


@multi_asset(
    specs=[
        AssetSpec(AssetKey(FILLED.name), deps=[AssetKey(FCT_METRIC_DAILY.name)], description=FILLED.doc, **VIEW_SPEC),
        AssetSpec(
            AssetKey(OKR_PROGRESS.name),
            deps=[AssetKey(t.name) for t in (OKR_OBJECTIVES, OKR_KEY_RESULTS)] + [AssetKey(FILLED.name)],
            description=OKR_PROGRESS.doc,
            **VIEW_SPEC,
        ),
    ],
    can_subset=False,
)
def kpi_views(warehouse: WarehouseResource) -> Iterator[MaterializeResult]:
    """(Re)create the views; their rows follow the tables, so this runs only when the code changes."""
    wh = warehouse.get_warehouse()
    ensure_kpi_schema(wh)
    for view in VIEWS:
        rows = int(wh.scalar(f"SELECT COUNT(*) FROM {view.qualified}"))
        yield MaterializeResult(asset_key=AssetKey(view.name), metadata={"rows": MetadataValue.int(rows)})
