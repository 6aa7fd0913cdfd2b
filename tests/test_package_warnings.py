"""Loading the definitions prints no Dagster preview or beta warning: the two features the project chose on purpose
are silenced by message, every other warning still shows."""

from __future__ import annotations

import subprocess
import sys


def test_loading_the_definitions_prints_no_preview_or_beta_warning() -> None:
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", "import kpi_pipeline.definitions"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "PreviewWarning" not in done.stderr and "BetaWarning" not in done.stderr, done.stderr[-2000:]


def test_other_dagster_warnings_are_not_silenced() -> None:
    code = (
        "import warnings, kpi_pipeline\n"
        "from dagster import BetaWarning\n"
        "warnings.warn('Parameter `other` of function `asset` is currently in beta', BetaWarning)\n"
    )
    done = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, timeout=120)
    assert "BetaWarning" in done.stderr
