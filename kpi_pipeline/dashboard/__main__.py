"""`python -m kpi_pipeline.dashboard`: render the dashboard from a warehouse, optionally screenshot it.

python -m kpi_pipeline.dashboard                                  # KPI_WAREHOUSE_URL -> KPI_DASHBOARD_PATH
python -m kpi_pipeline.dashboard --screenshot docs/img/dashboard.png
python -m kpi_pipeline.dashboard --sample --out /tmp/d.html      # synthetic quarter in a scratch warehouse
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from kpi_pipeline import settings
from kpi_pipeline.dashboard import build_dashboard, dashboard_path, write_page
from kpi_pipeline.dashboard.browser import screenshot
from kpi_pipeline.dashboard.sample import write_sample
from kpi_pipeline.warehouse import open_warehouse


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kpi_pipeline.dashboard", description=__doc__)
    parser.add_argument("--warehouse", default=os.environ.get("KPI_WAREHOUSE_URL") or settings.DEFAULT_WAREHOUSE_URL)
    parser.add_argument("--quarter", help="e.g. 2026-Q3 (default: the latest published quarter with objectives)")
    parser.add_argument("--out", type=Path, default=None, help="HTML file (default: KPI_DASHBOARD_PATH)")
    parser.add_argument("--screenshot", type=Path, help="also write a PNG of the page (needs chromium)")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=2000)
    parser.add_argument("--sample", action="store_true", help="render a synthetic quarter instead of --warehouse")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kpi-dashboard-") as scratch:
        url = args.warehouse
        if args.sample:
            url = f"duckdb:///{scratch}/sample.duckdb"
            write_sample(open_warehouse(url))
        page = build_dashboard(open_warehouse(url), args.quarter)
    out = write_page(args.out or dashboard_path(), page)
    print(f"dashboard: {out.resolve()}")
    if args.screenshot:
        png = screenshot(out.resolve().as_uri(), args.screenshot, args.width, args.height)
        print(f"screenshot: {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
