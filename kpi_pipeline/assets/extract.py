"""Extraction: each day's raw text -> metric readings with evidence -> one synthesized value per metric.

`metric_candidates` and `metric_values` come from one pass over the same LLM answers, so they are one
step; the LLM step sits in the `llm` pool so concurrent runs share one rate budget. A day's candidates,
values, calls and extract.day_status row are replaced together in one transaction.

A day with unread answers (the backend gave no usable answer) is `partial`, or `failed` above
`KPI_MAX_UNREAD_RATE`: the run logs a warning and says so in the metadata (`unread`, `partial_days`,
`failed_days`); publishing keeps those metrics' previous versions and kpi_daily's check reports it.

A range run reads, extracts and writes `KPI_EXTRACT_CHUNK_DAYS` days at a time (kpi_pipeline.extraction.pipeline),
keeping only each day's figures for the metadata, so its memory does not grow with the range.

Confidence is calibrated by the map for the running (backend, model, version) under calibration/; without
one the raw confidence is used, and the log and the `calibration` metadata say which.
"""

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
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
from kpi_pipeline.calibration.apply import describe, map_key
from kpi_pipeline.calibration.mapfile import calibration_dir, find_map
from kpi_pipeline.catalog import Catalog, catalog_version
from kpi_pipeline.extraction.pipeline import RawDay, chunk_days_setting, chunk_plan, extract_chunks
from kpi_pipeline.extraction.schema import PROMPT_VERSION
from kpi_pipeline.orchestration.budget import check_range_budget
from kpi_pipeline.orchestration.versions import EXTRACTION_CODE_VERSION
from kpi_pipeline.partitions import daily_partitions
from kpi_pipeline.resources.catalog import CatalogResource
from kpi_pipeline.resources.llm import LlmResource
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.warehouse.extract_io import read_raw_days, write_day

RAW_INPUTS = ["raw_slack_messages", "raw_jira_issues", "raw_jira_events", "raw_docs"]


def _totals(stats: Mapping[date, Mapping[str, Any]]) -> dict[str, float]:
    keys = ["readings", "abstentions", "unread", "conflicts", "ungrounded", "calls", "input_tokens", "output_tokens"]
    keys += ["cache_creation_input_tokens", "cache_read_input_tokens", "cost_usd", "sources_left_out"]
    keys += ["candidate_rows", "value_rows"]
    return {k: sum(s.get(k, 0) for s in stats.values()) for k in keys}


PER_DAY_TABLE_MAX_DAYS = 31


def _per_day_table(stats: Mapping[date, Mapping[str, Any]]) -> MetadataValue:
    """A row per day. A range run's metadata is copied onto every day's event, so past a month the table
    would grow with the square of the range: then it says where the per-day figures are instead."""
    if len(stats) > PER_DAY_TABLE_MAX_DAYS:
        return MetadataValue.md(
            f"{len(stats)} days: per-day figures are in extract.metric_values and extract.llm_calls "
            "(and in the dashboard's cost panel)"
        )
    rows = [
        {
            "day": d.isoformat(),
            "readings": s["readings"],
            "abstained": s["abstentions"],
            "unread": s["unread"],
            "conflicts": s["conflicts"],
            "ungrounded": s["ungrounded"],
            "tokens": s["input_tokens"] + s["output_tokens"],
            "cost_usd": round(s["cost_usd"], 4),
        }
        for d, s in sorted(stats.items())
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
    try:
        size = chunk_days_setting()
    except ValueError as exc:  # a user's setting: one line, no traceback
        raise Failure(description=f"nothing extracted: {exc}") from None

    def read(chunk: list[date]) -> dict[date, RawDay]:
        with wh.session():
            return read_raw_days(wh, chunk)

    # BudgetExceeded here: nothing called, nothing written
    planned = check_range_budget((read(c) for c in chunk_plan(days, size, backend)), cat, backend)
    if planned is not None:
        context.log.info(f"estimated ${planned.cost_usd:.4f} ({planned.calls} calls), within KPI_LLM_BUDGET_USD")
    context.log.info(
        f"extracting {len(cat.metrics)} metrics over {len(days)} day(s) with {backend.name}/{backend.model}"
        + (f", {size} days at a time" if len(days) > size else "")
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
    stats: dict[date, dict[str, Any]] = {}  # per day, for the metadata: the frames go as each chunk is written
    read_status: dict[str, list[str]] = {"partial": [], "failed": []}
    with wh.one_reader_refresh():  # a range's chunks are copied for readers once, at the end
        for results in extract_chunks(days, read, cat, backend, size, calibration=cmap):
            now = datetime.now(UTC)
            with wh.session():
                for day in sorted(results):
                    result = results[day]
                    status = write_day(wh, day, result, context.run_id, now)
                    stats[day] = {
                        **result.stats,
                        "candidate_rows": len(result.candidates),
                        "value_rows": len(result.values),
                    }
                    if status in read_status:
                        read_status[status].append(day.isoformat())
                        unread = ", ".join(result.read.unread_metrics)
                        context.log.warning(f"extract: {day.isoformat()} is {status}, no usable answer for {unread}")
            del results
            if len(days) > 1:
                context.log.info(f"extract: wrote {len(stats)}/{len(days)} days")
    totals = _totals(stats)
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
                "dagster/row_count": int(totals["candidate_rows"]),
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
                "dagster/row_count": int(totals["value_rows"]),
                "abstentions": int(totals["abstentions"]),
                "unread": int(totals["unread"]),
                "partial_days": MetadataValue.text(", ".join(read_status["partial"]) or "none"),
                "failed_days": MetadataValue.text(", ".join(read_status["failed"]) or "none"),
                "conflicts": int(totals["conflicts"]),
                "ungrounded": int(totals["ungrounded"]),
                "per_day": _per_day_table(stats),
                **common,
            },
        ),
    )
