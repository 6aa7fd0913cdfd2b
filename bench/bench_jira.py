"""Jira ingest (raw_jira's resource and per-day writes) against another commit's code, as interleaved pairs.

    .venv/bin/python bench/bench_jira.py --dataset /tmp/y/demo100                 # last 92 days, 1 pair
    .venv/bin/python bench/bench_jira.py --dataset /tmp/y/demo100 --days 365 --pairs 0   # this tree only

`--dataset` is a demo dataset (`python -m kpi_pipeline.demo DIR --scale 100 --days 365`); its jira/ folder is
read as an export. Each measurement is a fresh child process that materializes raw_jira alone
(`dagster.materialize`, an ephemeral instance) over the last `--days` days (ending 2026-09-30), a single
run as a backfill makes, into a fresh DuckDB warehouse. It reports wall and CPU seconds (`process_time`,
every thread of the child, Dagster's start included), peak RSS and rows. The base side runs the package as
`git archive BASE kpi_pipeline` exports it (PYTHONPATH first), in the same virtualenv; the pairs alternate
base, this tree. The bench fails unless both sides wrote the same rows (a checksum of every column but
`ingested_at`). `--pairs 0` runs this tree once, for the figures of a long range.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench_extract_cpu import export

ROOT = Path(__file__).resolve().parents[1]
LAST_DAY = date(2026, 9, 30)  # every demo dataset ends here
CHILD = """
import json, resource, sys, time
from datetime import date
from dagster import DagsterInstance, materialize
from kpi_pipeline.assets.ingest import raw_jira
from kpi_pipeline.resources.jira import JiraSource
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.warehouse.engine import open_warehouse
from kpi_pipeline.warehouse.tables import RAW_JIRA_EVENTS, RAW_JIRA_ISSUES

folder, url, last, count = sys.argv[1:5]
last_day = date.fromisoformat(last)
first_day = date.fromordinal(last_day.toordinal() - int(count) + 1)
wall, cpu = time.perf_counter(), time.process_time()
result = materialize(
    [raw_jira],
    resources={"jira": JiraSource(source=folder), "warehouse": WarehouseResource(url=url)},
    instance=DagsterInstance.ephemeral(),
    tags={
        "dagster/asset_partition_range_start": first_day.isoformat(),
        "dagster/asset_partition_range_end": last_day.isoformat(),
    },
)
assert result.success
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
metadata = {}
for event in result.get_asset_materialization_events():
    metadata[event.asset_key.to_user_string()] = {k: v.value for k, v in event.materialization.metadata.items()}
wh = open_warehouse(url)
sums = {}
for table in (RAW_JIRA_ISSUES, RAW_JIRA_EVENTS):
    cols = ", ".join(c for c in table.column_names if c != "ingested_at")
    sums[table.qualified] = str(wh.scalar(f"SELECT sum(hash({cols})::HUGEINT) FROM {table.qualified}"))
issues, events = metadata["raw_jira_issues"], metadata["raw_jira_events"]
notes = {k: issues[k] for k in ("duplicate_changelog_entries", "duplicate_comments")}
# on a line of its own: DuckDB may have drawn a progress bar without a newline before it
print("\\nRESULT " + json.dumps({"wall": wall, "cpu": cpu, "rss_mb": rss_mb, "issues": issues["dagster/row_count"],
                  "events": events["dagster/row_count"], "notes": notes, "sums": sums}))
"""
# the child says where its package came from, so a pair cannot silently time one tree twice
CHILD += "import kpi_pipeline; print(kpi_pipeline.__file__, file=sys.stderr)\n"


def measure(code: Path | None, folder: Path, days: int, scratch: Path) -> dict[str, object]:
    """One child's figures, ingesting into a fresh warehouse under `scratch` with the package at `code`
    (None: this tree's)."""
    warehouse = scratch / "warehouse.duckdb"
    for stale in scratch.glob("warehouse*"):
        stale.unlink()
    first = date.fromordinal(LAST_DAY.toordinal() - days + 1)
    # the daily partitions begin at KPI_START_DATE: at the range's first day, as bench_year.py does
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KPI_", "JIRA_"))}
    env["KPI_START_DATE"] = first.isoformat()
    if code is not None:
        env["PYTHONPATH"] = str(code)
    cmd = [sys.executable, "-c", CHILD, str(folder), f"duckdb:///{warehouse}", LAST_DAY.isoformat(), str(days)]
    # cwd outside any checkout: `python -c` puts the working directory first on sys.path, before PYTHONPATH
    done = subprocess.run(cmd, env=env, cwd=scratch, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the child failed:\n{done.stderr[-3000:]}")
    origin = done.stderr.strip().splitlines()[-1]
    if not origin.startswith(str(code or ROOT)):
        raise SystemExit(f"the child ran {origin}, not the code under {code or ROOT}")
    figures: dict[str, object] = json.loads(done.stdout.rsplit("\nRESULT ", 1)[1])
    return figures


def _line(label: str, f: dict[str, object]) -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{label:>12} {f['wall']:>8.1f} {f['cpu']:>8.1f} {f['rss_mb']:>8.0f} {f['issues']:>11} {f['events']:>8}  {load}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True, help="a demo dataset folder (with jira/)")
    parser.add_argument("--base", default="main", help="git ref whose kpi_pipeline is the baseline")
    parser.add_argument("--days", type=int, default=92, help="days ingested, ending 2026-09-30")
    parser.add_argument("--pairs", type=int, default=1, help="0: this tree once, no baseline")
    args = parser.parse_args(argv)
    folder = (args.dataset / "jira").resolve()
    with tempfile.TemporaryDirectory(prefix="bench_jira_") as tmp:
        root = Path(tmp)
        base = export(args.base, root / "base")
        print(f"{folder}, {args.days} days to {LAST_DAY}: raw_jira materialized alone, fresh DuckDB")
        print(f"{'side':>12} {'wall s':>8} {'CPU s':>8} {'RSS MB':>8} {'issue rows':>11} {'events':>8}  load 1 5 15")
        ratios: list[float] = []
        differ = False
        for pair in range(1, args.pairs + 1):
            old = measure(base, folder, args.days, root)
            print(_line(f"{args.base[:8]} #{pair}", old), flush=True)
            new = measure(None, folder, args.days, root)
            print(_line(f"this #{pair}", new), flush=True)
            ratios.append(float(old["wall"]) / float(new["wall"]))  # type: ignore[arg-type]
            for key in ("issues", "events", "notes", "sums"):
                if old[key] != new[key]:
                    differ = True
                    print(f"pair {pair}: {key} DIFFER: {old[key]} vs {new[key]}")
        if args.pairs == 0:
            print(_line("this", measure(None, folder, args.days, root)), flush=True)
        else:
            median = sorted(ratios)[len(ratios) // 2]
            print(f"wall speed-up: median {median:.2f}x over {len(ratios)} pairs, {time.ctime()}")
            print("tables: identical" if not differ else "tables DIFFER")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
