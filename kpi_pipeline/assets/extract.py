"""Extraction: each day's raw text -> metric readings with evidence -> one synthesized value per metric.

`metric_candidates` and `metric_values` come from one pass over the same LLM answers, so they are one
step; the LLM step sits in the `llm` pool so concurrent runs share one rate budget. A day's candidates,
values, calls and extract.day_status row are replaced together in one transaction.

A day with unread answers (the backend gave no usable answer) is `partial`, or `failed` above
`KPI_MAX_UNREAD_RATE`: the run logs a warning and says so in the metadata (`unread`, `partial_days`,
`failed_days`); publishing keeps those metrics' previous versions and kpi_daily's check reports it.

Confidence is calibrated by the map for the running (backend, model, version) under calibration/; without
one the raw confidence is used, and the log and the `calibration` metadata say which.
"""

from datetime import UTC, date, datetime

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from kpi_pipeline.assets.partition_days import days_of, span
from kpi_pipeline.calibration.apply import describe, map_key
from kpi_pipeline.calibration.mapfile import calibration_dir, find_map
from kpi_pipeline.catalog import Catalog, catalog_version
from kpi_pipeline.extraction.pipeline import DayExtraction, extract_days
from kpi_pipeline.extraction.schema import PROMPT_VERSION
from kpi_pipeline.orchestration.budget import check_run_budget
from kpi_pipeline.orchestration.versions import EXTRACTION_CODE_VERSION
from kpi_pipeline.partitions import daily_partitions
from kpi_pipeline.resources.catalog import CatalogResource
from kpi_pipeline.resources.llm import LlmResource
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.warehouse.extract_io import read_raw_days, write_day

RAW_INPUTS = ["raw_slack_messages", "raw_jira_issues", "raw_jira_events", "raw_docs"]


def _totals(results: dict[date, DayExtraction]) -> dict[str, float]:
    keys = ["readings", "abstentions", "unread", "conflicts", "ungrounded", "calls", "input_tokens", "output_tokens"]
    keys += ["cache_creation_input_tokens", "cache_read_input_tokens", "cost_usd", "sources_left_out"]
    return {k: sum(r.stats.get(k, 0) for r in results.values()) for k in keys}


PER_DAY_TABLE_MAX_DAYS = 31


def _per_day_table(results: dict[date, DayExtraction]) -> MetadataValue:
    """A row per day. A range run's metadata is copied onto every day's event, so past a month the table
    would grow with the square of the range: then it says where the per-day figures are instead."""
    if len(results) > PER_DAY_TABLE_MAX_DAYS:
        return MetadataValue.md(
            f"{len(results)} days: per-day figures are in extract.metric_values and extract.llm_calls "
            "(and in the dashboard's cost panel)"
        )
    rows = [
        {
            "day": d.isoformat(),
            "readings": r.stats["readings"],
            "abstained": r.stats["abstentions"],
            "unread": r.stats["unread"],
            "conflicts": r.stats["conflicts"],
            "ungrounded": r.stats["ungrounded"],
            "tokens": r.stats["input_tokens"] + r.stats["output_tokens"],
            "cost_usd": round(r.stats["cost_usd"], 4),
        }
        for d, r in sorted(results.items())
    ]
    return MetadataValue.md(pd.DataFrame(rows).to_markdown(index=False))


@multi_asset(
    specs=[
        AssetSpec(
            "metric_candidates",
            deps=RAW_INPUTS,
            kinds={"anthropic"},
            code_version=EXTRACTION_CODE_VERSION,
            description="Every reading per metric, day and source group, with evidence (extract.metric_candidates).",
        ),
        AssetSpec(
            "metric_values",
            deps=["metric_candidates"],
            code_version=EXTRACTION_CODE_VERSION,
            description="One synthesized value per metric and day, before the quality gate (extract.metric_values).",
        ),
    ],
    group_name="extract",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    pool="llm",
)
def metric_extraction(
    context: AssetExecutionContext, catalog: CatalogResource, llm: LlmResource, warehouse: WarehouseResource
) -> tuple[MaterializeResult, MaterializeResult]:
    cat: Catalog = catalog.load()
    backend = llm.get_backend()
    wh = warehouse.get_warehouse()
    days = days_of(context)
    with wh.session():
        raw = read_raw_days(wh, days)
    planned = check_run_budget(raw, cat, backend)  # BudgetExceeded here: nothing called, nothing written
    if planned is not None:
        context.log.info(f"estimated ${planned.cost_usd:.4f} ({planned.calls} calls), within KPI_LLM_BUDGET_USD")
    context.log.info(
        f"extracting {len(cat.metrics)} metrics over {len(days)} day(s) with {backend.name}/{backend.model}"
    )
    key = map_key(backend.name, backend.model)
    cmap = find_map(key)
    if cmap is None:
        context.log.warning(
            f"calibration: none (raw confidence): no {key.file_name} in {calibration_dir()}; "
            "fit one with `kpi-pipeline calibrate DATASET ...`"
        )
    else:
        context.log.info(f"calibration: {describe(cmap)} ({cmap.readings} labelled readings)")
    results = extract_days(raw, cat, backend, calibration=cmap)
    now = datetime.now(UTC)
    read: dict[str, list[str]] = {"partial": [], "failed": []}
    with wh.session():
        for i, day in enumerate(days, start=1):
            status = write_day(wh, day, results[day], context.run_id, now)
            if status in read:
                read[status].append(day.isoformat())
                unread = ", ".join(results[day].read.unread_metrics)
                context.log.warning(f"extract: {day.isoformat()} is {status}, no usable answer for {unread}")
            if len(days) > 1 and (i % 10 == 0 or i == len(days)):
                context.log.info(f"extract: wrote {i}/{len(days)} days")
    totals = _totals(results)
    common = {
        "days": span(days),
        "backend": backend.name,
        "model": backend.model,
        "prompt_version": PROMPT_VERSION,
        "catalog_version": catalog_version(cat),
        "calibration": describe(cmap),
    }
    return (
        MaterializeResult(
            asset_key=AssetKey("metric_candidates"),
            metadata={
                "dagster/row_count": sum(len(r.candidates) for r in results.values()),
                "readings": int(totals["readings"]),
                "calls": int(totals["calls"]),
                "input_tokens": int(totals["input_tokens"]),
                "output_tokens": int(totals["output_tokens"]),
                "cache_read_input_tokens": int(totals["cache_read_input_tokens"]),
                "cache_creation_input_tokens": int(totals["cache_creation_input_tokens"]),
                "cost_usd": round(float(totals["cost_usd"]), 4),
                "sources_left_out": int(totals["sources_left_out"]),
                **common,
            },
        ),
        MaterializeResult(
            asset_key=AssetKey("metric_values"),
            metadata={
                "dagster/row_count": sum(len(r.values) for r in results.values()),
                "abstentions": int(totals["abstentions"]),
                "unread": int(totals["unread"]),
                "partial_days": MetadataValue.text(", ".join(read["partial"]) or "none"),
                "failed_days": MetadataValue.text(", ".join(read["failed"]) or "none"),
                "conflicts": int(totals["conflicts"]),
                "ungrounded": int(totals["ungrounded"]),
                "per_day": _per_day_table(results),
                **common,
            },
        ),
    )
