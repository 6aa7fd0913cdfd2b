"""Slack export ingestion speed: SlackSource day by day over a quarter vs DuckDB's read_json over the same files.

    .venv/bin/python bench/bench_ingest.py --scale 100            # generates the demo company at 100x
    .venv/bin/python bench/bench_ingest.py --export DIR           # any Slack export folder (or a dataset's slack/)

Each side runs in its own child process (best of --repeat runs), so the peak RSS printed is that side's own.
Target: ingestion at >= 0.8x DuckDB's rows/s and < 1 GB peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

DUCKDB_COLUMNS = (
    "{'ts': 'VARCHAR', 'thread_ts': 'VARCHAR', 'user': 'VARCHAR', 'bot_id': 'VARCHAR', "
    "'subtype': 'VARCHAR', 'text': 'VARCHAR', 'reply_count': 'INTEGER'}"
)


def export_days(export: Path) -> list[date]:
    """Every UTC day that can hold a message: the day files' names, widened by a day on each side."""
    named = sorted({date.fromisoformat(p.stem) for p in export.glob("*/*.json")})
    first, last = named[0] - timedelta(days=1), named[-1] + timedelta(days=1)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def run_ingest(export: Path) -> dict[str, float]:
    from kpi_pipeline.resources.slack import SlackSource

    days = export_days(export)
    slack = SlackSource(source=str(export))
    started = time.perf_counter()
    rows = sum(len(slack.messages_for_day(day)) for day in days)
    return {"rows": rows, "seconds": time.perf_counter() - started, "days": len(days)}


def run_ingest_load(export: Path) -> dict[str, float]:
    """The ingest asset's work: parse each day and replace it in a DuckDB warehouse, one transaction a day."""
    from datetime import UTC, datetime

    from kpi_pipeline.resources.slack import SlackSource
    from kpi_pipeline.warehouse import open_warehouse
    from kpi_pipeline.warehouse.tables import RAW_SLACK_MESSAGES

    days = export_days(export)
    slack = SlackSource(source=str(export))
    with tempfile.TemporaryDirectory(prefix="kpi-bench-wh-") as tmp:
        wh = open_warehouse(f"duckdb:///{tmp}/wh.duckdb")
        wh.ensure_tables([RAW_SLACK_MESSAGES])
        started = time.perf_counter()
        rows = 0
        with wh.session():
            for day in days:
                frame = slack.messages_for_day(day).assign(ingested_at=datetime.now(UTC))
                rows += wh.replace_days(RAW_SLACK_MESSAGES, [day], frame)
        seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "days": len(days)}


def run_duckdb_load(export: Path) -> dict[str, float]:
    """DuckDB reading every file straight into a table of its own file."""
    import duckdb

    with tempfile.TemporaryDirectory(prefix="kpi-bench-wh-") as tmp:
        con = duckdb.connect(f"{tmp}/wh.duckdb")
        started = time.perf_counter()
        con.execute(
            f'CREATE TABLE slack AS SELECT filename, ts, thread_ts, "user", bot_id, subtype, text, reply_count '
            f"FROM read_json('{export}/*/*.json', format = 'array', columns = {DUCKDB_COLUMNS}, filename = true)"
        )
        rows = con.execute("SELECT count(*) FROM slack").fetchone()[0]  # type: ignore[index]
        con.close()
        seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds}


def run_duckdb(export: Path) -> dict[str, float]:
    import duckdb
    import pandas  # noqa: F401  (imported before the clock starts, as on the ingest side)

    started = time.perf_counter()
    frame = duckdb.execute(
        f'SELECT filename, ts, thread_ts, "user", bot_id, subtype, text, reply_count FROM read_json('
        f"'{export}/*/*.json', format = 'array', columns = {DUCKDB_COLUMNS}, filename = true)"
    ).df()
    return {"rows": len(frame), "seconds": time.perf_counter() - started}


def child(side: str, export: Path) -> dict[str, float]:
    """Run one side in a fresh interpreter and return its figures, peak RSS included."""
    output = subprocess.run(
        [sys.executable, __file__, "--child", side, "--export", str(export)], check=True, capture_output=True, text=True
    ).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--export", type=Path, help="a Slack export folder (default: generate the demo company)")
    parser.add_argument("--scale", type=int, default=100, help="demo company scale when generating (100 ≈ 1.1M msgs)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side; the fastest counts")
    parser.add_argument("--child", choices=sorted(SIDES), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        figures = SIDES[args.child](args.export)
        figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(figures))
        return

    with tempfile.TemporaryDirectory(prefix="kpi-bench-") as scratch:
        export = args.export
        if export is None:
            from kpi_pipeline.demo import generate_dataset

            started = time.perf_counter()
            summary = generate_dataset(Path(scratch), seed=7, scale=args.scale)
            export = Path(scratch) / "slack"
            print(f"generated demo scale {args.scale}: {summary.messages:,} messages in {summary.channels} channels "
                  f"({time.perf_counter() - started:.0f} s)")  # fmt: skip
        size_mb = sum(p.stat().st_size for p in export.glob("*/*.json")) / 1e6
        files = len(list(export.glob("*/*.json")))
        print(f"export: {export} ({files:,} day files, {size_mb:,.0f} MB)")
        results = {}
        for side in SIDES:
            runs = [child(side, export) for _ in range(args.repeat)]
            results[side] = min(runs, key=lambda run: run["seconds"])
            seconds = ", ".join(f"{run['seconds']:.2f}" for run in runs)
            print(f"{side:>7}: {int(results[side]['rows']):,} rows, runs {seconds} s")

    ingest, duck = results["ingest"], results["duckdb"]
    ingest_rate, duck_rate = ingest["rows"] / ingest["seconds"], duck["rows"] / duck["seconds"]
    print(f"SlackSource.messages_for_day x {int(ingest['days'])} days: {ingest_rate:,.0f} rows/s, "
          f"peak RSS {ingest['peak_rss_mb']:,.0f} MB")  # fmt: skip
    print(f"DuckDB read_json (one query, all files): {duck_rate:,.0f} rows/s, peak RSS {duck['peak_rss_mb']:,.0f} MB")
    same = ingest["rows"] == duck["rows"]
    print(f"ratio ingest/DuckDB: {ingest_rate / duck_rate:.2f}x (target >= 0.8x); same row count: {same}")
    load, duck_load = results["ingest_load"], results["duckdb_load"]
    load_rate, duck_load_rate = load["rows"] / load["seconds"], duck_load["rows"] / duck_load["seconds"]
    print(f"into a table: ingest asset's work {load_rate:,.0f} rows/s (peak RSS {load['peak_rss_mb']:,.0f} MB), "
          f"DuckDB CREATE TABLE AS read_json {duck_load_rate:,.0f} rows/s (peak RSS {duck_load['peak_rss_mb']:,.0f} MB)"
          f"; ratio {load_rate / duck_load_rate:.2f}x")  # fmt: skip


SIDES = {"ingest": run_ingest, "duckdb": run_duckdb, "ingest_load": run_ingest_load, "duckdb_load": run_duckdb_load}

if __name__ == "__main__":
    main()
