"""The KPI dashboard: the published tables rendered as one self-contained HTML file.

Pure rendering, no Dagster: `build_dashboard` reads a warehouse and returns the page; the asset in
`kpi_pipeline.assets.dashboard` only writes it and reports it.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from kpi_pipeline.dashboard.data import DashboardData, DashboardDataError, load_dashboard_data
from kpi_pipeline.dashboard.render import render_html
from kpi_pipeline.warehouse import Warehouse

DEFAULT_PATH = "data/dashboard/index.html"


def dashboard_path() -> Path:
    """Where the dashboard is written: `KPI_DASHBOARD_PATH`, else data/dashboard/index.html."""
    return Path(os.environ.get("KPI_DASHBOARD_PATH") or DEFAULT_PATH)


def build_dashboard(wh: Warehouse, quarter: str | None = None, generated_at: datetime | None = None) -> str:
    """The dashboard page for `quarter` (default: the latest published quarter with objectives)."""
    return render_html(load_dashboard_data(wh, quarter), generated_at)


def write_page(path: Path, page: str) -> Path:
    """Write atomically, so a browser reloading the file never sees half a page."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        partial.write_text(page, encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        raise OSError(f"cannot write the dashboard to {path} ({exc.strerror}); set KPI_DASHBOARD_PATH") from exc
    return path


__all__ = [
    "DEFAULT_PATH",
    "DashboardData",
    "DashboardDataError",
    "build_dashboard",
    "dashboard_path",
    "load_dashboard_data",
    "render_html",
    "write_page",
]
