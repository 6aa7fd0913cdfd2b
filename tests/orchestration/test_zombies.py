"""Runs and backfills whose executing `kpi-pipeline` process is gone are marked failed; live ones and runs of
other hosts or of the daemon are left alone."""

from __future__ import annotations

import socket
import subprocess
import uuid
from datetime import date
from pathlib import Path

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus

from kpi_pipeline.orchestration.backfill import submit
from kpi_pipeline.orchestration.zombies import HOST_TAG, PID_TAG, executor_tags, mark_zombies_failed


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def started_run(instance: DagsterInstance, tags: dict[str, str]) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(DagsterRun(job_name="__ASSET_JOB", run_id=run_id, status=DagsterRunStatus.STARTED, tags=tags))
    return run_id


def test_a_run_and_a_backfill_of_a_killed_process_are_marked_failed_with_a_line_each(tmp_path: Path) -> None:
    host = socket.gethostname()
    gone = {HOST_TAG: host, PID_TAG: str(dead_pid())}
    lines: list[str] = []
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        zombie = started_run(instance, gone)
        live = started_run(instance, executor_tags())
        elsewhere = started_run(instance, {HOST_TAG: "another-host", PID_TAG: gone[PID_TAG]})
        by_daemon = started_run(instance, {"kpi/command": "backfill"})
        abandoned = submit(instance, [date(2026, 7, 1)], "killed", tags=gone)
        watched = submit(instance, [date(2026, 7, 1)], "a daemon executes it")

        assert mark_zombies_failed(instance, lines.append) == 2

        def status(run_id: str) -> DagsterRunStatus:
            run = instance.get_run_by_id(run_id)
            assert run is not None
            return run.status

        assert status(zombie) == DagsterRunStatus.FAILURE
        assert [status(r) for r in (live, elsewhere, by_daemon)] == [DagsterRunStatus.STARTED] * 3
        stored = [instance.get_backfill(b) for b in (abandoned, watched)]
        assert [b.status.value if b else None for b in stored] == ["FAILED", "REQUESTED"]
    assert len(lines) == 2
    assert lines[0].startswith(f"run {zombie} was left started: marked failed") and gone[PID_TAG] in lines[0]
    assert lines[1].startswith(f"backfill {abandoned} was left requested: marked failed")


def test_nothing_to_reconcile_changes_nothing(tmp_path: Path) -> None:
    lines: list[str] = []
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        assert mark_zombies_failed(instance, lines.append) == 0
    assert lines == []
