"""CPU time of offline extraction against another commit's code, as interleaved pairs, and proof of equal results.

    .venv/bin/python bench/bench_extract_cpu.py                          # demo --scale 20, 14 days, against main
    .venv/bin/python bench/bench_extract_cpu.py --base HEAD~3 --scale 20 --days 14 --pairs 3
    .venv/bin/python bench/bench_extract_cpu.py --scale 100 --kpis 50 --days 3      # the 50-KPI catalog

The demo company is generated once and its first `--days` days ingested once (`kpi-pipeline backfill`, offline, on
a fresh DuckDB warehouse). Each measurement is a fresh child process that reads those raw days from the warehouse
(`read_raw_days`, as the extract asset does) and times `extract_days` with the offline backend: `process_time`,
so other work on the machine shows in the load average, not in the figure. The base side runs the package as
`git archive BASE kpi_pipeline` exports it (PYTHONPATH first), in the same virtualenv; the pairs alternate
base, this tree, base, this tree. Every child writes its results, and the bench fails unless both sides gave the
same candidates, values, calls (but for their latency) and statistics for every day.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIRST_DAY = date(2026, 7, 1)  # the demo quarter, 2026-Q3
FOREIGN_SETTINGS = ("KPI_", "DAGSTER_", "ANTHROPIC_", "SLACK_", "JIRA_")
CHILD = """
import pickle, sys, time
from datetime import date
from kpi_pipeline.catalog import load_catalog
from kpi_pipeline.extraction.offline import OfflineBackend
from kpi_pipeline.extraction.pipeline import extract_days
from kpi_pipeline.warehouse.engine import open_warehouse
from kpi_pipeline.warehouse.extract_io import read_raw_days

url, catalog_path, first, count, out = sys.argv[1:6]
days = [date.fromordinal(date.fromisoformat(first).toordinal() + i) for i in range(int(count))]
wh = open_warehouse(url)
with wh.session():
    raw = read_raw_days(wh, days)
catalog = load_catalog(catalog_path)
started = time.process_time()
done = extract_days(raw, catalog, OfflineBackend())
seconds = time.process_time() - started
frames = {d: (e.candidates, e.values, e.calls.drop(columns="latency_ms"), e.stats) for d, e in done.items()}
with open(out, "wb") as f:
    pickle.dump(frames, f)
print(seconds, sum(len(r.slack_messages) for r in raw.values()))
"""
# the child says where its package came from, so a pair cannot silently time one tree twice
CHILD += "import kpi_pipeline; print(kpi_pipeline.__file__, file=sys.stderr)\n"


def export(ref: str, into: Path) -> Path:
    """`ref`'s kpi_pipeline package under `into` (git archive: nothing of the work tree is touched)."""
    archive = subprocess.run(["git", "archive", ref, "kpi_pipeline"], cwd=ROOT, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def ingest(dataset: Path, days: int, scratch: Path) -> str:
    """The first `days` demo days in a fresh DuckDB warehouse, through the user path; returns its URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_SETTINGS)}
    url = f"duckdb:///{scratch / 'warehouse.duckdb'}"
    (scratch / "dagster_home").mkdir(parents=True)
    env |= {
        "DAGSTER_HOME": str(scratch / "dagster_home"),
        "KPI_DATASET": str(dataset),
        "KPI_WAREHOUSE_URL": url,
        "KPI_LLM_BACKEND": "offline",
        "KPI_LLM_RESPONSE_CACHE_DIR": str(scratch / "llm_cache"),
        "KPI_DASHBOARD_PATH": str(scratch / "dashboard.html"),
        "GX_ANALYTICS_ENABLED": "false",
    }
    last = FIRST_DAY + timedelta(days=days - 1)
    cli = Path(sys.executable).with_name("kpi-pipeline")
    subprocess.run(
        [str(cli), "backfill", FIRST_DAY.isoformat(), last.isoformat()], env=env, cwd=scratch, capture_output=True
    ).check_returncode()
    return url


def measure(code: Path | None, url: str, catalog: Path, days: int, out: Path) -> tuple[float, int]:
    """(CPU seconds of extract_days, Slack messages read) in a fresh process running the package at `code`
    (None: this tree's)."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    cmd = [sys.executable, "-c", CHILD, url, str(catalog), FIRST_DAY.isoformat(), str(days), str(out)]
    # cwd outside any checkout: `python -c` puts the working directory first on sys.path, before PYTHONPATH
    done = subprocess.run(cmd, env=env, cwd=out.parent, capture_output=True, text=True, check=True)
    seconds, messages = done.stdout.split()
    origin = done.stderr.strip().splitlines()[-1]
    if not origin.startswith(str(code or ROOT)):
        raise SystemExit(f"the child ran {origin}, not the code under {code or ROOT}")
    return float(seconds), int(messages)


def same_results(a: Path, b: Path) -> list[str]:
    """The days (and what) that differ between two children's results; empty: identical."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        left: dict[date, tuple[Any, ...]] = pickle.load(fa)
        right: dict[date, tuple[Any, ...]] = pickle.load(fb)
    if left.keys() != right.keys():
        return ["different days"]
    names = ("candidates", "values", "calls", "stats")
    differ = []
    for day in left:
        for name, x, y in zip(names, left[day], right[day], strict=True):
            if not (x.equals(y) if hasattr(x, "equals") else x == y):
                differ.append(f"{day.isoformat()} {name}")
    return differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="main", help="git ref whose kpi_pipeline is the baseline")
    parser.add_argument("--scale", type=int, default=20, help="demo workspace size multiplier")
    parser.add_argument("--days", type=int, default=14, help="days extracted, from the demo quarter's first")
    parser.add_argument("--kpis", type=int, help="metrics in the demo catalog (the demo's --kpis; default its own)")
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_extract_cpu_") as tmp:
        root = Path(tmp)
        dataset = root / "demo"
        kpis = ["--kpis", str(args.kpis)] if args.kpis else []
        subprocess.run(
            [sys.executable, "-m", "kpi_pipeline.demo", str(dataset), "--scale", str(args.scale), *kpis],
            check=True,
            capture_output=True,
        )
        url = ingest(dataset, args.days, root / "ingest")
        base = export(args.base, root / "base")
        catalog = f", --kpis {args.kpis}" if args.kpis else ""
        print(f"demo --scale {args.scale}{catalog}, {args.days} days from {FIRST_DAY}: CPU s of extract_days, offline")
        print(f"{'pair':>4} {args.base[:12]:>12} {'this tree':>10} {'ratio':>6} {'msgs/s':>8}  load 1 5 15")
        ratios = []
        for pair in range(1, args.pairs + 1):
            old, _ = measure(base, url, dataset / "metrics.yaml", args.days, root / "base.pkl")
            new, messages = measure(None, url, dataset / "metrics.yaml", args.days, root / "new.pkl")
            ratios.append(old / new)
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"{pair:>4} {old:>12.2f} {new:>10.2f} {old / new:>5.2f}x {messages / new:>8.0f}  {load}", flush=True)
        differ = same_results(root / "base.pkl", root / "new.pkl")
        print(f"speed-up: median {sorted(ratios)[len(ratios) // 2]:.2f}x over {len(ratios)} pairs, {time.ctime()}")
        print("results: identical" if not differ else "results DIFFER: " + json.dumps(differ[:10]))
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
