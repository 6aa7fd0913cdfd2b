"""How long the dashboard takes to generate, and how big it gets.

    .venv/bin/python bench/bench_dashboard.py                      # synthetic demo-size and 50 KPIs x 365 days
    .venv/bin/python bench/bench_dashboard.py --warehouse duckdb:///data/warehouse.duckdb   # the real demo too

The goal: the demo quarter renders in under 5 seconds. Each case is timed as the asset does it (read the
published tables, build the payload, render the HTML), best of --repeat runs, and optionally opened in
headless Chromium to time the page until its DOM is dumped (browser start included).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from kpi_pipeline.dashboard import write_page
from kpi_pipeline.dashboard.browser import dump_dom
from kpi_pipeline.dashboard.data import load_dashboard_data
from kpi_pipeline.dashboard.render import render_html
from kpi_pipeline.dashboard.sample import write_sample
from kpi_pipeline.warehouse import Warehouse, open_warehouse

GOAL_S = 5.0


def measure(name: str, wh: Warehouse, repeat: int, browser: bool, scratch: Path) -> None:
    best_load = best_render = float("inf")
    page = ""
    for _ in range(repeat):
        started = time.perf_counter()
        data = load_dashboard_data(wh)
        loaded = time.perf_counter()
        page = render_html(data)
        done = time.perf_counter()
        best_load = min(best_load, loaded - started)
        best_render = min(best_render, done - loaded)
    total = best_load + best_render
    verdict = "ok" if total < GOAL_S else f"OVER the {GOAL_S:.0f}s goal"
    print(
        f"{name:<34} {len(data.metrics):>3} KPIs {len(data.facts):>6} values  load {best_load:6.2f}s  "
        f"render {best_render:5.2f}s  total {total:6.2f}s ({verdict})  html {len(page.encode()) / 1e6:6.2f} MB"
    )
    if browser:
        path = write_page(scratch / f"{name.split()[0]}.html", page)
        started = time.perf_counter()
        dom = dump_dom(path.as_uri())
        assert 'data-ready="true"' in dom, "the page did not finish rendering"
        print(f"{'':<34} chromium: opened, rendered and dumped in {time.perf_counter() - started:.2f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", help="also measure this warehouse (e.g. the demo's, after `make demo`)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--browser", action="store_true", help="also time the page in headless Chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        scratch = Path(tmp)
        if args.warehouse:
            measure("given warehouse", open_warehouse(args.warehouse), args.repeat, args.browser, scratch)
        for n_metrics, n_days in ((12, None), (50, 365)):
            wh = open_warehouse(f"duckdb:///{scratch}/sample_{n_metrics}.duckdb")
            write_sample(wh, n_metrics=n_metrics, n_days=n_days)
            label = f"synthetic {n_metrics} KPIs x {n_days or 92} days"
            measure(label, wh, args.repeat, args.browser, scratch)


if __name__ == "__main__":
    main()
