"""Fixtures for the dashboard: a synthetic published quarter, its page on disk, and a real Chromium."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kpi_pipeline.dashboard import build_dashboard, write_page
from kpi_pipeline.dashboard.browser import BrowserError, find_chromium
from kpi_pipeline.dashboard.sample import write_sample
from kpi_pipeline.warehouse import Warehouse, open_warehouse

from .cdp import Page


def _install_chromium() -> None:
    """Debian's chromium, when this process may install packages (root with apt-get)."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.fail(
            "Chromium is needed for the dashboard's browser tests and is missing; install it as root with "
            "`apt-get update && apt-get install -y chromium` (or set KPI_CHROMIUM to a chromium binary)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.fail(f"`{' '.join(command)}` failed (exit {done.returncode}): {done.stderr.strip()[-1500:]}")


@pytest.fixture(scope="module")
def browser(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    """One headless Chromium page per test module; a script error on any page it showed fails the module."""
    page = Page(chromium, tmp_path_factory.mktemp("profile"))
    try:
        yield page
    finally:
        page.close()
    assert page.errors == [], "the page's script threw"


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The Chromium binary, installed with apt-get when missing. Never skips: a missing browser fails.

    Every test that starts Chromium asks for this fixture, and the pytest-xdist workers take turns (a file
    lock), so one installs it while the others wait instead of failing or fighting over apt's lock."""
    with open(Path(tempfile.gettempdir()) / "kpi-pipeline-chromium-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return find_chromium()
        except BrowserError:
            _install_chromium()
        try:
            return find_chromium()
        except BrowserError as exc:
            pytest.fail(f"Chromium still missing after apt-get install: {exc}")


@pytest.fixture(scope="module")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """A DuckDB warehouse holding the synthetic 2026-Q3: 8 KPIs, 4 objectives, quarantine, conflicts, costs."""
    path = tmp_path_factory.mktemp("sample") / "warehouse.duckdb"
    wh = open_warehouse(f"duckdb:///{path}")
    write_sample(wh, n_metrics=8)
    return wh


@pytest.fixture(scope="module")
def sample_page(sample_warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dashboard of the synthetic quarter, written to a file."""
    return write_page(tmp_path_factory.mktemp("page") / "index.html", build_dashboard(sample_warehouse))
