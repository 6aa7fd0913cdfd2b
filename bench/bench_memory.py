"""Peak memory of a range run against the number of days: it should stay flat.

    .venv/bin/python bench/bench_memory.py                    # demo --scale 10; 1, 10 and 92 days
    .venv/bin/python bench/bench_memory.py --scale 100 --days 1 10 92 --chunk-days 14 1000
    .venv/bin/python bench/bench_memory.py --dataset DIR --last-day 2026-09-30 --days 1 10 100   # a dataset of yours

Each measurement is `kpi-pipeline backfill FIRST LAST` (the user path: a real asset backfill whose runs the
command launches in its own process; ingest, offline extraction, gate, publish, dashboard) on a fresh DuckDB
warehouse and DAGSTER_HOME, in a fresh child process; the figure is the peak resident set size of the largest
process under it (`getrusage(RUSAGE_CHILDREN).ru_maxrss`, read by a wrapper process of its own so one
measurement's peak never hides the next's). The range starts on the demo quarter's first day; the demo has 92
days, so 92 is the longest range with data on every day. `--chunk-days` sets KPI_EXTRACT_CHUNK_DAYS per
measurement: a value above the range (1000) extracts the whole range at once, as before chunking.
With `--dataset DIR` (e.g. `python -m kpi_pipeline.demo DIR --scale 100 --days 365 --kpis 50`) nothing is
generated, and with `--last-day` every range ends on that day instead of starting on the quarter's first.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

FIRST_DAY = date(2026, 7, 1)  # the demo quarter, 2026-Q3
FOREIGN_SETTINGS = ("KPI_", "DAGSTER_", "ANTHROPIC_", "SLACK_", "JIRA_")
CHILD_TIMEOUT_S = 1800


def wrapped(cmd: list[str], env: dict[str, str], cwd: Path) -> None:
    """Run `cmd` and print its peak RSS (largest descendant) and exit code as JSON: the wrapper's own children
    are only this command, so RUSAGE_CHILDREN is its peak."""
    started = time.time()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
    print(
        json.dumps({"peak_mib": peak_kib / 1024, "seconds": time.time() - started, "rc": done.returncode, "tail": tail})
    )


def measure(dataset: Path, first: date, last: date, chunk_days: int | None, scratch: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_SETTINGS)}
    home = scratch / "dagster_home"
    home.mkdir(parents=True)
    env |= {
        "DAGSTER_HOME": str(home),
        "KPI_DATASET": str(dataset),
        "KPI_START_DATE": min(first, FIRST_DAY).isoformat(),
        "KPI_WAREHOUSE_URL": f"duckdb:///{scratch / 'warehouse.duckdb'}",
        "KPI_LLM_BACKEND": "offline",
        "KPI_LLM_RESPONSE_CACHE_DIR": str(scratch / "llm_cache"),
        "KPI_DASHBOARD_PATH": str(scratch / "dashboard.html"),
        "GX_ANALYTICS_ENABLED": "false",
    }
    if chunk_days is not None:
        env["KPI_EXTRACT_CHUNK_DAYS"] = str(chunk_days)
    cli = Path(sys.executable).with_name("kpi-pipeline")
    cmd = [str(cli), "backfill", first.isoformat(), last.isoformat()]
    wrapper = [sys.executable, __file__, "--wrap", json.dumps(cmd)]
    done = subprocess.run(wrapper, env=env, cwd=scratch, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10, help="demo workspace size multiplier (same for every range)")
    parser.add_argument("--days", type=int, nargs="+", default=[1, 10, 92])
    parser.add_argument("--chunk-days", type=int, nargs="+", default=[14], help="KPI_EXTRACT_CHUNK_DAYS values")
    parser.add_argument("--dataset", type=Path, help="a generated dataset to use instead of generating one")
    parser.add_argument("--last-day", type=date.fromisoformat, help="ranges end on this day (default: from 2026-07-01)")
    parser.add_argument("--wrap", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.wrap:
        wrapped(json.loads(args.wrap), dict(os.environ), Path.cwd())
        return 0
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
        root = Path(tmp)
        dataset = args.dataset or root / "demo"
        if args.dataset is None:
            subprocess.run(
                [sys.executable, "-m", "kpi_pipeline.demo", str(dataset), "--scale", str(args.scale)],
                check=True,
                capture_output=True,
            )
        where = f"to {args.last_day}" if args.last_day else f"from {FIRST_DAY}"
        print(f"{args.dataset or f'demo --scale {args.scale}'}; peak RSS of `kpi-pipeline backfill` {where}, N days")
        print(f"{'days':>5} {'chunk':>6} {'peak MiB':>9} {'seconds':>8}  exit")
        failed = False
        for days in args.days:
            for chunk in args.chunk_days:  # interleaved: each range at every chunk size before the next range
                if args.last_day:
                    first, last = args.last_day - timedelta(days=days - 1), args.last_day
                else:
                    first, last = FIRST_DAY, FIRST_DAY + timedelta(days=days - 1)
                got = measure(dataset, first, last, chunk, root / f"run_{days}_{chunk}")
                print(f"{days:>5} {chunk:>6} {got['peak_mib']:>9.0f} {got['seconds']:>8.1f}  {got['rc']}", flush=True)
                if got["rc"] != 0:
                    failed = True
                    print(f"      {got['tail']}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
