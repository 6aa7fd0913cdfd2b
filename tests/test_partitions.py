"""KPI_START_DATE is read when the definitions load; a bad value is one line naming it, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kpi_pipeline.settings import SettingError, start_date


@pytest.mark.parametrize("command", [["backfill", "2026-Q3"], ["estimate", "2026-Q3"]])
def test_a_bad_start_date_is_one_line_naming_the_setting_and_the_format(command: list[str]) -> None:
    env = {**os.environ, "KPI_START_DATE": "not-a-date"}
    done = subprocess.run(
        [sys.executable, "-m", "kpi_pipeline.cli", *command], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"kpi-pipeline {command[0]}: KPI_START_DATE='not-a-date' is not a date: write it as YYYY-MM-DD"
    )


def test_start_date_defaults_to_the_demo_quarter_and_reads_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KPI_START_DATE", raising=False)
    assert start_date() == "2026-07-01"
    monkeypatch.setenv("KPI_START_DATE", " 2025-01-01 ")
    assert start_date() == "2025-01-01"
    monkeypatch.setenv("KPI_START_DATE", "2025-13-01")
    with pytest.raises(SettingError, match="KPI_START_DATE='2025-13-01' is not a date"):
        start_date()
