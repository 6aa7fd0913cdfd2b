"""Runs and backfills a killed `kpi-pipeline` process left behind, marked failed at the next command's start.

A run the command executes in its own process, and a backfill it executes itself (no daemon), carry the
command's host and process id as tags. When that process is gone (SIGKILL, a closed laptop, an OOM kill),
nothing else will ever finish them: the UI would show the run started and the backfill requested forever,
and a daemon started later would wait on the run. Runs launched by a daemon, and processes on other hosts,
carry no such tags or cannot be checked, and are left alone; so is a process id that is alive again (reused),
which errs on the side of leaving a zombie rather than failing a live run.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.execution.backfill import BulkActionStatus

HOST_TAG = "kpi/host"
PID_TAG = "kpi/pid"
UNFINISHED = [
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]
UNENDED = (BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING)


def executor_tags() -> dict[str, str]:
    """Tags naming this process as the one executing a run or backfill."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def _process_gone(tags: Mapping[str, str]) -> bool:
    """The tagged executor ran on this host and no process has its id any more."""
    if tags.get(HOST_TAG) != socket.gethostname() or not tags.get(PID_TAG, "").isdigit():
        return False
    pid = int(tags[PID_TAG])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def mark_zombies_failed(instance: DagsterInstance, report: Callable[[str], None] = print) -> int:
    """Mark failed the runs and backfills whose executing `kpi-pipeline` process is gone; how many."""
    marked = 0
    host = socket.gethostname()
    for run in instance.get_runs(RunsFilter(statuses=UNFINISHED, tags={HOST_TAG: host})):
        if _process_gone(run.tags):
            why = f"the kpi-pipeline process {run.tags[PID_TAG]} on {host} that executed it is gone (killed?)"
            instance.report_run_failed(run, message=f"Marked failed: {why}")
            report(f"run {run.run_id} was left {run.status.value.lower()}: marked failed, {why}")
            marked += 1
    for status in UNENDED:
        for backfill in instance.get_backfills(status=status):
            if _process_gone(backfill.tags):
                instance.update_backfill(backfill.with_status(BulkActionStatus.FAILED).with_end_timestamp(time.time()))
                report(
                    f"backfill {backfill.backfill_id} was left {status.value.lower()}: marked failed, the "
                    f"kpi-pipeline process {backfill.tags[PID_TAG]} on {host} that executed it is gone (killed?)"
                )
                marked += 1
    return marked
