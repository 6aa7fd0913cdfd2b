"""Publish assets: the catalog and each day's gated values into the `kpi` schema (the BI contract).

kpi_daily depends on metric_values, whose blocking check `quality_gate` must pass first in the same run.
It re-applies the gate itself and refuses to publish when the gate finds a range-wide problem, so a run
that skipped the check still cannot publish rule-breaking rows. Backfills run as one run over the range,
like ingestion; inside the range the gate decides per day: good days publish, held days keep their facts.
The range is gated and published a chunk of days at a time (kpi_pipeline.warehouse.publish.publish_range), so
memory does not grow with the range; what would refuse the whole range is found before anything is written.

Any day held back, or published with unread metrics kept at their previous version, fails the check
`days_published` with ERROR severity after the good days were committed. It does not block, so the
assets after kpi_daily in the same run (views, dashboard) still get the good days; the run is green
but the check is red, and `kpi-pipeline backfill` exits 1 from extract.day_status.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
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
from kpi_pipeline.orchestration.run_errors import BACKFILL_TAG
from kpi_pipeline.orchestration.versions import CATALOG_CODE_VERSION
from kpi_pipeline.partitions import daily_partitions
from kpi_pipeline.quality.gate import days_table
from kpi_pipeline.resources.catalog import CatalogResource
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.review.overrides import OverrideError
from kpi_pipeline.warehouse.publish import (
    CATALOG_TABLES,
    DAY_TABLES,
    FILLED,
    OKR_PROGRESS,
    VIEWS,
    PublishBlocked,
    Published,
    ensure_kpi_schema,
    publish_catalog,
    publish_range,
)
from kpi_pipeline.warehouse.tables import FCT_METRIC_DAILY, OKR_KEY_RESULTS, OKR_OBJECTIVES

GROUP = "publish"
VIEW_SPEC: dict[str, Any] = {"kinds": {"sql", "view"}, "group_name": GROUP}
DAYS_PUBLISHED = AssetCheckSpec(
    "days_published",
    asset=AssetKey(FCT_METRIC_DAILY.name),
    description="Every day of the run published with every metric read; fails (ERROR, not blocking) on a day "
    "held back or a metric kept at its previous version because its answer was unread. See extract.day_status.",
)


def _days_published(published: Published, detail: str) -> AssetCheckResult:
    held, kept = published.held, published.kept
    parts = [f"{d.day.isoformat()} held: {d.reason}" for d in held]
    parts += [f"{d.day.isoformat()} partial: {d.reason}" for d in kept]
    n = len(published.days)
    description = (
        f"{n - len(held)} of {n} day(s) published, {len(kept)} partial: " + "; ".join(parts)
        if parts
        else f"all {n} day(s) published with every metric read"
    )
    return AssetCheckResult(
        check_name=DAYS_PUBLISHED.name,
        asset_key=DAYS_PUBLISHED.asset_key,
        passed=not parts,
        severity=AssetCheckSeverity.ERROR,
        description=description[:2000],
        metadata={
            "days": MetadataValue.int(n),
            "held_days": MetadataValue.int(len(held)),
            "partial_days": MetadataValue.int(len(kept)),
            "per_day": MetadataValue.md(detail),
        },
    )


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
    check_specs=[DAYS_PUBLISHED],
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    can_subset=False,
)
def kpi_daily(
    context: AssetExecutionContext, warehouse: WarehouseResource, catalog: CatalogResource
) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Publish each day in one transaction: passing values, their evidence, and the quarantine."""
    days = days_of(context)
    wh = warehouse.get_warehouse()
    cat = catalog.load()
    try:
        overrides = catalog.load_overrides(cat)
    except OverrideError as exc:
        raise Failure(description=f"nothing published: {exc}") from None
    trigger = "backfill" if BACKFILL_TAG in context.run.tags else "rerun"
    with wh.session():  # one connection for the whole range, one transaction per day
        ensure_kpi_schema(wh)
        try:
            result = publish_range(
                wh, cat, days, context.run_id, datetime.now(UTC), overrides=overrides, trigger=trigger
            )
        except PublishBlocked as exc:
            done = f"{span(list(exc.before))} published before it, nothing more" if exc.before else "nothing"
            raise Failure(
                description=f"quality gate failed for {span(days)}; {done} published: " + "; ".join(exc.problems),
                metadata=gate_metadata(exc.gate) if exc.gate else {},
            ) from None
    published = result.published
    for outcome in published.held:
        context.log.warning(f"{outcome.day.isoformat()} held back, its published facts stay: {outcome.reason}")
    for outcome in published.kept:
        context.log.warning(f"{outcome.day.isoformat()} published partially: {outcome.reason}")
    for stale in published.stale:
        context.log.warning(
            f"{stale.day.isoformat()} {stale.metric}: the reading changed since {stale.reviewer} decided "
            f"({stale.action}); its previous version stays until `kpi-pipeline review` decides again"
        )
    if published.restated:
        context.log.info(f"restated {published.restated} published value(s); see kpi.fct_metric_history")
    for table in DAY_TABLES:
        yield MaterializeResult(
            asset_key=AssetKey(table.name),
            metadata={
                "days": span(days),
                "rows": MetadataValue.int(published.rows[table.qualified]),
                "held_days": MetadataValue.int(len(published.held)),
                "restated": MetadataValue.int(published.restated),
                "overrides": MetadataValue.int(len(overrides)),
                "stale_overrides": MetadataValue.int(len(published.stale)),
            },
        )
    yield _days_published(published, days_table(result.gate_days))


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
