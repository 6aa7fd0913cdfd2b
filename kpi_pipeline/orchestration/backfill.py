"""`kpi-pipeline backfill`: a real Dagster backfill of the daily pipeline, resumable, with progress.

The backfill is submitted to the configured instance (`DAGSTER_HOME`), exactly what the UI's "Materialize
all partitions" does, and executed by the Dagster daemon. When no daemon is running, the command runs one
for the duration. Days whose facts were already published from the same catalog and prompt version are
skipped unless `force`, so an interrupted quarter continues where it stopped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, RunsFilter
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.storage.tags import BACKFILL_ID_TAG
from dagster._core.utils import make_new_backfill_id

from kpi_pipeline.catalog import Catalog, catalog_version
from kpi_pipeline.extraction.schema import PROMPT_VERSION
from kpi_pipeline.orchestration.schedules import DAILY_ASSETS
from kpi_pipeline.warehouse import Warehouse

PUBLISHED = AssetKey("fct_metric_daily")
EXTRACTED = AssetKey("metric_values")
DONE = {BulkActionStatus.COMPLETED, BulkActionStatus.COMPLETED_SUCCESS}
ENDED = DONE | {BulkActionStatus.COMPLETED_FAILED, BulkActionStatus.FAILED, BulkActionStatus.CANCELED}
DAEMON_FRESH_S = 60


def _latest_by_partition(instance: DagsterInstance, key: AssetKey, partitions: Sequence[str]) -> dict[str, dict]:
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=list(partitions)), limit=max(100, 20 * len(partitions))
    ).records
    latest: dict[str, dict] = {}
    for record in records:  # newest first
        event = record.asset_materialization
        if event is None or event.partition is None or event.partition in latest:
            continue
        latest[event.partition] = {
            "timestamp": record.timestamp,
            **{k: getattr(v, "value", v) for k, v in event.metadata.items()},
        }
    return latest


def already_done(instance: DagsterInstance, days: Sequence[date], catalog: Catalog) -> set[date]:
    """Days published after an extraction with the current catalog and prompt version."""
    keys = [d.isoformat() for d in days]
    extracted = _latest_by_partition(instance, EXTRACTED, keys)
    published = _latest_by_partition(instance, PUBLISHED, keys)
    version = catalog_version(catalog)
    done = set()
    for day, key in zip(days, keys, strict=True):
        e, p = extracted.get(key), published.get(key)
        if not e or not p or p["timestamp"] < e["timestamp"]:
            continue
        if e.get("catalog_version") == version and e.get("prompt_version") == PROMPT_VERSION:
            done.add(day)
    return done


def submit(instance: DagsterInstance, days: Sequence[date], title: str) -> str:
    """Add an asset backfill of the daily pipeline for `days`; the daemon executes it."""
    from kpi_pipeline.definitions import defs

    backfill_id = make_new_backfill_id()
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id,
        asset_graph=defs.resolve_asset_graph(),
        partition_names=[d.isoformat() for d in days],
        asset_selection=[AssetKey(k) for k in DAILY_ASSETS],
        backfill_timestamp=time.time(),
        tags={"kpi/command": "backfill"},
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=title,
        description=f"{len(days)} day(s) from {days[0]} to {days[-1]}",
        run_config=None,
    )
    instance.add_backfill(backfill)
    return backfill_id


def daemon_running(instance: DagsterInstance) -> bool:
    beats = instance.get_daemon_heartbeats()
    beat = beats.get("BACKFILL")
    return beat is not None and time.time() - beat.timestamp < DAEMON_FRESH_S


@dataclass
class Progress:
    status: str
    runs: dict[str, int]
    days_published: int
    days_total: int
    input_tokens: int
    output_tokens: int
    cost_usd: float

    def line(self) -> str:
        runs = ", ".join(f"{n} {s.lower()}" for s, n in sorted(self.runs.items())) or "no runs yet"
        return (
            f"[{self.status.lower()}] {self.days_published}/{self.days_total} days published; runs: {runs}; "
            f"tokens in {self.input_tokens:,} out {self.output_tokens:,}; cost ${self.cost_usd:.4f}"
        )


def progress(
    instance: DagsterInstance, wh: Warehouse, backfill_id: str, days: Sequence[date], since: float
) -> Progress:
    backfill = instance.get_backfill(backfill_id)
    runs = instance.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.status.value] = counts.get(run.status.value, 0) + 1
    published = _latest_by_partition(instance, PUBLISHED, [d.isoformat() for d in days])
    fresh = sum(1 for p in published.values() if p["timestamp"] >= since)
    usage = wh.query_df(
        "SELECT coalesce(sum(input_tokens + cache_creation_input_tokens + cache_read_input_tokens), 0) AS i, "
        "coalesce(sum(output_tokens), 0) AS o, coalesce(sum(cost_usd), 0) AS c "
        "FROM extract.llm_calls WHERE day BETWEEN ? AND ? AND called_at >= to_timestamp(?)",
        [days[0], days[-1], since],
    )
    return Progress(
        status=backfill.status.value if backfill else "UNKNOWN",
        runs=counts,
        days_published=fresh,
        days_total=len(days),
        input_tokens=int(usage["i"].iloc[0]),
        output_tokens=int(usage["o"].iloc[0]),
        cost_usd=float(usage["c"].iloc[0]),
    )


def run_backfill(
    instance: DagsterInstance,
    wh: Warehouse,
    days: Sequence[date],
    title: str,
    report: Callable[[str], None] = print,
    poll_s: float = 1.0,
    timeout_s: float = 6 * 3600,
) -> Progress:
    """Submit the backfill, make sure a daemon executes it, report progress until it ends."""
    started = time.time()
    backfill_id = submit(instance, days, title)
    report(f"backfill {backfill_id} submitted: {len(days)} day(s), {days[0]} to {days[-1]}")
    daemon = None
    if not daemon_running(instance):
        report("no Dagster daemon is running: starting one for this backfill")
        daemon = subprocess.Popen(
            [sys.executable, "-m", "kpi_pipeline.orchestration.daemon", "run", "-m", "kpi_pipeline.definitions"],
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    try:
        last = ""
        while True:
            state = progress(instance, wh, backfill_id, days, started)
            if state.line() != last:
                report(state.line())
                last = state.line()
            backfill = instance.get_backfill(backfill_id)
            runs_active = any(s in state.runs for s in ("QUEUED", "STARTING", "STARTED", "CANCELING"))
            if backfill and backfill.status in ENDED and not runs_active:
                if backfill.error:
                    report(f"backfill {backfill_id} failed: {backfill.error.message.strip()}")
                return state
            if time.time() - started > timeout_s:
                raise TimeoutError(f"backfill {backfill_id} still running after {timeout_s:.0f}s; see the Dagster UI")
            time.sleep(poll_s)
    finally:
        if daemon is not None:
            daemon.terminate()
            try:
                daemon.wait(30)
            except subprocess.TimeoutExpired:
                daemon.kill()
