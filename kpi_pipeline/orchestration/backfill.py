"""`kpi-pipeline backfill`: a real Dagster backfill of the daily pipeline, resumable, with progress.

The backfill is submitted to the configured instance (`DAGSTER_HOME`), exactly what the UI's "Materialize
all partitions" does. A running Dagster daemon executes it; when none is running, this process does the
daemon's work for this one backfill, launching its run in-process, so the runs, events and backfill
status in the UI are the same either way. Which days to skip is the warehouse's to say (`resume.py`).

No public Dagster API creates an asset backfill or executes one without a daemon; the private ones this
module uses are listed, with why, in docs/deployment.md ("Private Dagster APIs") and checked by
tests/orchestration/test_dagster_private_apis.py on every Dagster upgrade.
"""

from __future__ import annotations

import logging
import os
import secrets
import string
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd
from dagster import AssetKey, DagsterInstance, RunsFilter
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._serdes import ConfigurableClassData

from kpi_pipeline.orchestration.interrupts import interruptible
from kpi_pipeline.orchestration.run_errors import BACKFILL_TAG
from kpi_pipeline.orchestration.schedules import DAILY_ASSETS, REPORT_ASSETS
from kpi_pipeline.orchestration.sqlite_storage import with_pooled_event_log
from kpi_pipeline.orchestration.zombies import executor_tags
from kpi_pipeline.warehouse import Warehouse

PUBLISHED = AssetKey("fct_metric_daily")
DONE = {BulkActionStatus.COMPLETED, BulkActionStatus.COMPLETED_SUCCESS}
ENDED = DONE | {BulkActionStatus.COMPLETED_FAILED, BulkActionStatus.FAILED, BulkActionStatus.CANCELED}
DAEMON_FRESH_S = 60
CODE_LOCATION = "kpi_pipeline.definitions"  # as workspace.yaml names it
MAX_ITERATION_ERRORS = 3
# runs log step progress to the console, not each of their ~10 events per asset and day
CONSOLE_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
ITERATION_PAUSE_S = 1.0


def new_backfill_id() -> str:
    """Eight lowercase letters, the form Dagster gives the backfills it creates."""
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))


def submit(instance: DagsterInstance, days: Sequence[date], title: str, tags: Mapping[str, str] | None = None) -> str:
    """Add an asset backfill of the daily pipeline for `days`, then the catalog tables, OKR views and dashboard
    (a second run, once the days are in); the daemon executes it."""
    from kpi_pipeline.definitions import defs

    backfill_id = new_backfill_id()
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id,
        asset_graph=defs.resolve_asset_graph(),
        partition_names=[d.isoformat() for d in days],
        asset_selection=[AssetKey(k) for k in (*DAILY_ASSETS, *REPORT_ASSETS)],
        backfill_timestamp=time.time(),
        tags={"kpi/command": "backfill", **(tags or {})},
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=title,
        description=f"{len(days)} day(s) from {days[0]} to {days[-1]}",
        run_config=CONSOLE_INFO,
    )
    instance.add_backfill(backfill)
    return backfill_id


def daemon_running(instance: DagsterInstance) -> bool:
    beats = instance.get_daemon_heartbeats()
    beat = beats.get("BACKFILL")
    return beat is not None and time.time() - beat.timestamp < DAEMON_FRESH_S


@dataclass
class Progress:
    backfill_id: str
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
    instance: DagsterInstance, wh: Warehouse, backfill_id: str, days: Sequence[date], after_record: int
) -> Progress:
    """Where the backfill stands: its runs, the days published by events after `after_record`, the LLM usage
    its runs recorded. Cheap enough to poll while a run executes in the same process."""
    backfill = instance.get_backfill(backfill_id)
    runs = instance.get_runs(RunsFilter(tags={BACKFILL_TAG: backfill_id}))
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.status.value] = counts.get(run.status.value, 0) + 1
    published = instance.get_materialized_partitions(PUBLISHED, after_cursor=after_record)
    fresh = len(published & {d.isoformat() for d in days})
    usage = run_usage(wh, [run.run_id for run in runs], days)
    return Progress(
        backfill_id=backfill_id,
        status=backfill.status.value if backfill else "UNKNOWN",
        runs=counts,
        days_published=fresh,
        days_total=len(days),
        input_tokens=int(usage["i"].iloc[0]),
        output_tokens=int(usage["o"].iloc[0]),
        cost_usd=float(usage["c"].iloc[0]),
    )


def run_usage(wh: Warehouse, run_ids: Sequence[str], days: Sequence[date]) -> pd.DataFrame:
    """Tokens in, out and dollars the runs' own extract.llm_calls rows record for `days` (one row: i, o, c).
    The table keeps every run's calls, so counting by run never counts an earlier run's, or a call twice."""
    if not run_ids:
        return pd.DataFrame({"i": [0], "o": [0], "c": [0.0]})
    marks = ", ".join("?" for _ in run_ids)
    return wh.query_df(
        "SELECT coalesce(sum(input_tokens + cache_creation_input_tokens + cache_read_input_tokens), 0) AS i, "
        "coalesce(sum(output_tokens), 0) AS o, coalesce(sum(cost_usd), 0) AS c "
        f"FROM extract.llm_calls WHERE day BETWEEN ? AND ? AND run_id IN ({marks})",
        [days[0], days[-1], *run_ids],
    )


def restated(instance: DagsterInstance, wh: Warehouse, backfill_id: str) -> int:
    """Published values the backfill's runs replaced with a new version or withdrew (kpi.fct_metric_history)."""
    run_ids = [run.run_id for run in instance.get_runs(RunsFilter(tags={BACKFILL_TAG: backfill_id}))]
    if not run_ids:
        return 0
    marks = ", ".join("?" for _ in run_ids)
    count = wh.scalar(f"SELECT COUNT(*) FROM kpi.fct_metric_history WHERE version > 1 AND run_id IN ({marks})", run_ids)
    return int(count or 0)


def run_backfill(
    instance: DagsterInstance,
    wh: Warehouse,
    days: Sequence[date],
    title: str,
    report: Callable[[str], None] = print,
    poll_s: float = 1.0,
    timeout_s: float = 6 * 3600,
) -> Progress:
    """Submit the backfill and report progress until it ends: a running daemon executes it, else this process."""
    started = time.time()
    after_record = instance.event_log_storage.get_maximum_record_id() or 0
    by_daemon = daemon_running(instance)
    # executed here, the backfill and its runs name this process, so a later command can tell if it was killed
    backfill_id = submit(instance, days, title, tags=None if by_daemon else executor_tags())
    report(f"backfill {backfill_id} submitted: {len(days)} day(s), {days[0]} to {days[-1]}")
    watch = _Watch(instance, wh, backfill_id, days, after_record, report)
    if by_daemon:
        report("the Dagster daemon executes it; progress follows (Ctrl-C stops watching, not the backfill)")
        while not watch.ended():
            if time.time() - started > timeout_s:
                raise TimeoutError(f"backfill {backfill_id} still running after {timeout_s:.0f}s; see the Dagster UI")
            time.sleep(poll_s)
        return watch.final()
    report("no Dagster daemon is running: executing the backfill in this process")
    stop = threading.Event()
    reporter = threading.Thread(target=watch.every, args=(poll_s, stop), name="backfill-progress", daemon=True)
    reporter.start()
    try:
        with interruptible() as interrupts:
            execute_here(instance, backfill_id, report, interrupts.requested.is_set)
    except KeyboardInterrupt:
        _cancel(instance, backfill_id, "interrupted at the command line")
        report(f"backfill {backfill_id} canceled; run the same command again to resume")
        raise
    finally:
        stop.set()
        reporter.join()
    return watch.final()


@dataclass
class _Watch:
    """Reports a backfill's progress when it changes."""

    instance: DagsterInstance
    wh: Warehouse
    backfill_id: str
    days: Sequence[date]
    after_record: int
    report: Callable[[str], None]
    last: str = ""

    def poll(self) -> Progress:
        state = progress(self.instance, self.wh, self.backfill_id, self.days, self.after_record)
        if state.line() != self.last:
            self.last = state.line()
            self.report(self.last)
        return state

    def ended(self) -> bool:
        """The backfill ended and none of its runs is still queued or running."""
        state = self.poll()
        runs_active = any(s in state.runs for s in ("QUEUED", "STARTING", "STARTED", "CANCELING"))
        return state.status in {s.value for s in ENDED} and not runs_active

    def every(self, poll_s: float, stop: threading.Event) -> None:
        while not stop.wait(poll_s):
            self.poll()

    def final(self) -> Progress:
        state = self.poll()
        backfill = self.instance.get_backfill(self.backfill_id)
        if backfill is not None and backfill.error:
            self.report(f"backfill {self.backfill_id} failed: {backfill.error.message.strip()}")
        elif backfill is None or backfill.status not in ENDED:
            self.report(f"backfill {self.backfill_id} stopped before it ended ({state.status.lower()}): see the UI")
        return state


def _cancel(instance: DagsterInstance, backfill_id: str, why: str) -> None:
    """Mark the backfill and its unfinished runs canceled, so the UI does not show them running forever."""
    for run in instance.get_runs(RunsFilter(tags={BACKFILL_TAG: backfill_id})):
        if not run.is_finished:
            instance.report_run_canceled(run, message=f"Canceled: {why}")
    backfill = instance.get_backfill(backfill_id)
    if backfill is not None and backfill.status not in ENDED:
        instance.update_backfill(backfill.with_status(BulkActionStatus.CANCELED).with_end_timestamp(time.time()))


def _executing_instance(instance: DagsterInstance) -> DagsterInstance:
    """The same storage, with runs submitted straight to a launcher that executes them in this process.

    A daemon would start a code server and a run worker, several seconds of process start and imports each
    on a small machine, for a backfill whose one run (single-run backfill policy) this process can execute.
    """
    ref = with_pooled_event_log(instance.get_ref())
    return DagsterInstance.from_ref(
        ref._replace(
            run_coordinator_data=ConfigurableClassData("dagster._core.run_coordinator", "DefaultRunCoordinator", "{}"),
            run_launcher_data=ConfigurableClassData(
                "dagster._core.launcher.sync_in_memory_run_launcher", "SyncInMemoryRunLauncher", "{}"
            ),
        )
    )


def execute_here(
    instance: DagsterInstance,
    backfill_id: str,
    report: Callable[[str], None] = print,
    interrupted: Callable[[], bool] = lambda: False,
) -> None:
    """Do what the daemon's backfill loop does for this one backfill, until it ends, in this process.

    Each iteration plans the runs the backfill still needs and launches them synchronously; the next one
    sees them finished and marks the backfill done; `interrupted` is asked before each, and raises
    KeyboardInterrupt when Ctrl-C was pressed but lost inside a run (see interrupts.py). The runs are
    ordinary runs of the code location that `workspace.yaml` names, so the UI shows them, and re-executes
    them, like any other.
    """
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
    from dagster._daemon.backfill import execute_backfill_jobs

    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(executable_path=sys.executable, module_name=CODE_LOCATION, working_directory=os.getcwd()),
        location_name=CODE_LOCATION,
    )
    logger = logging.getLogger("kpi_pipeline.backfill")
    errors = iterations = 0
    with (
        _executing_instance(instance) as executing,
        WorkspaceProcessContext(executing, InProcessWorkspaceLoadTarget(origin)) as workspace,
    ):
        while (backfill := executing.get_backfill(backfill_id)) is not None and backfill.status not in ENDED:
            if interrupted():
                raise KeyboardInterrupt
            for error in execute_backfill_jobs(workspace, logger, [backfill]):
                if error is not None:
                    errors += 1
                    report(f"backfill {backfill_id}: {error.message.strip()}")
            if errors >= MAX_ITERATION_ERRORS:
                report(f"backfill {backfill_id}: giving up after {errors} errors; it stays in the Dagster UI")
                return
            iterations += 1
            if iterations > 2:  # a run finished elsewhere or a retry is pending: do not spin
                time.sleep(ITERATION_PAUSE_S)
