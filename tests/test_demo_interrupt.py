"""Ctrl-C during `kpi-pipeline demo` ends it: exit 130 with one line, no traceback, and the run it was executing is
ended (failed or canceled), not left started for the next command to find."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus


@pytest.mark.slow
def test_ctrl_c_ends_the_demo_in_one_line_and_ends_its_run(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KPI_", "ANTHROPIC_", "SLACK_", "JIRA_"))}
    env |= {"DAGSTER_HOME": str(home)}
    cmd = [sys.executable, "-m", "kpi_pipeline.cli", "demo"]
    running = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with DagsterInstance.from_config(str(home)) as instance:
        deadline = time.time() + 300
        while not instance.get_materialized_partitions(AssetKey("raw_docs")):
            assert running.poll() is None and time.time() < deadline, running.communicate()
            time.sleep(0.2)
    running.send_signal(signal.SIGINT)
    out, err = running.communicate(timeout=300)

    assert running.returncode == 130, out[-2000:] + err[-3000:]
    assert err.rstrip().splitlines()[-1] == "kpi-pipeline demo: interrupted"
    assert "Traceback" not in err
    with DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        assert run.status in {DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
