"""Slack export ingestion into each warehouse engine, against the engine's own bulk path over the same files.

    .venv/bin/python bench/bench_ingest.py --scale 20            # generates the demo company at 20x
    .venv/bin/python bench/bench_ingest.py --export DIR          # any Slack export folder (or a dataset's slack/)
    .venv/bin/python bench/bench_ingest.py --postgres postgresql://postgres@127.0.0.1:5432/test

Two pairs, each side in its own child process, run as interleaved pairs (project, reference, project, ...)
so both sides of a pair see the same machine load; the 1-minute load average is printed with each pair:

- DuckDB: the ingest asset's work (`SlackSource.messages_for_day` and `replace_days`, a transaction a day)
  against one `INSERT ... SELECT ... FROM read_json(...)` into the same keyed, day-indexed table.
- PostgreSQL: the same ingest into PostgreSQL against DuckDB `read_json` -> CSV -> one `COPY` into the same table.

Targets (issue #16): >= 0.8x the DuckDB reference, >= 0.7x the PostgreSQL floor.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

DUCKDB_COLUMNS = (
    "{'ts': 'VARCHAR', 'thread_ts': 'VARCHAR', 'user': 'VARCHAR', 'bot_id': 'VARCHAR', "
    "'subtype': 'VARCHAR', 'text': 'VARCHAR', 'reply_count': 'INTEGER'}"
)


def slack_export(export: Path | None, scale: int, scratch: Path) -> Path:
    """`export`, or the Slack export of the demo company at `scale`, generated into `scratch`."""
    if export is not None:
        return export
    from kpi_pipeline.demo import generate_dataset

    started = time.perf_counter()
    summary = generate_dataset(scratch, seed=7, scale=scale)
    print(f"generated demo scale {scale}: {summary.messages:,} messages in {summary.channels} channels "
          f"({time.perf_counter() - started:.0f} s)")  # fmt: skip
    return scratch / "slack"


def describe_export(export: Path) -> str:
    files = list(export.glob("*/*.json"))
    return f"{export} ({len(files):,} day files, {sum(p.stat().st_size for p in files) / 1e6:,.0f} MB)"


def export_days(export: Path) -> list[date]:
    """Every UTC day that can hold a message: the day files' names, widened by a day on each side."""
    named = sorted({date.fromisoformat(p.stem) for p in export.glob("*/*.json")})
    first, last = named[0] - timedelta(days=1), named[-1] + timedelta(days=1)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def reference_select(export: Path) -> str:
    """The export's messages as raw.slack_messages rows, in DuckDB SQL: channel from the folder, UTC day from ts."""
    return (
        "SELECT split_part(filename, '/', -2) AS channel_id, split_part(filename, '/', -2) AS channel_name, ts, "
        'thread_ts, coalesce("user", bot_id) AS user_id, subtype, text, reply_count, NULL AS permalink, '
        "CAST(timezone('UTC', to_timestamp(CAST(ts AS DOUBLE))) AS DATE) AS day, now() AS ingested_at "
        f"FROM read_json('{export}/*/*.json', format = 'array', columns = {DUCKDB_COLUMNS}, filename = true)"
    )


def project_load(url: str, export: Path) -> dict[str, float]:
    """The ingest asset's work: parse each day (the next while this one is written) and replace it in the
    warehouse, one transaction a day."""
    from datetime import UTC, datetime

    from kpi_pipeline.resources.slack import SlackSource
    from kpi_pipeline.sources.read_ahead import read_ahead
    from kpi_pipeline.warehouse import open_warehouse
    from kpi_pipeline.warehouse.tables import RAW_SLACK_MESSAGES

    days = export_days(export)
    slack = SlackSource(source=str(export))
    wh = open_warehouse(url)
    wh.ensure_tables([RAW_SLACK_MESSAGES])
    started = time.perf_counter()
    rows = 0
    with wh.session():
        for day, frame in read_ahead(slack.messages_for_day, days):  # as the asset reads: a day ahead
            rows += wh.replace_days(RAW_SLACK_MESSAGES, [day], frame.assign(ingested_at=datetime.now(UTC)))
    return {"rows": rows, "seconds": time.perf_counter() - started}


def duckdb_reference(url: str, export: Path) -> dict[str, float]:
    """One INSERT ... SELECT FROM read_json into the same keyed, day-indexed table."""
    import duckdb

    from kpi_pipeline.warehouse import open_warehouse
    from kpi_pipeline.warehouse.tables import RAW_SLACK_MESSAGES

    open_warehouse(url).ensure_tables([RAW_SLACK_MESSAGES])
    con = duckdb.connect(url.removeprefix("duckdb:///"))
    con.execute("SET TimeZone = 'UTC'")
    started = time.perf_counter()
    con.execute(f"INSERT INTO raw.slack_messages {reference_select(export)}")
    rows = con.execute("SELECT count(*) FROM raw.slack_messages").fetchone()[0]  # type: ignore[index]
    con.close()
    return {"rows": rows, "seconds": time.perf_counter() - started}


def postgres_reference(url: str, export: Path) -> dict[str, float]:
    """DuckDB read_json -> one CSV file -> one COPY into the same keyed, day-indexed table: the floor."""
    import duckdb
    import psycopg

    from kpi_pipeline.warehouse import open_warehouse
    from kpi_pipeline.warehouse.tables import RAW_SLACK_MESSAGES

    open_warehouse(url).ensure_tables([RAW_SLACK_MESSAGES])
    cols = ", ".join(RAW_SLACK_MESSAGES.column_names)
    with tempfile.TemporaryDirectory(prefix="kpi-bench-csv-") as tmp, psycopg.connect(url) as pg:
        started = time.perf_counter()
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"COPY ({reference_select(export)}) TO '{tmp}/rows.csv' (FORMAT csv, HEADER false)")
        con.close()
        with (
            pg.cursor() as cur,
            cur.copy(f"COPY raw.slack_messages ({cols}) FROM STDIN (FORMAT csv)") as copy,
            open(f"{tmp}/rows.csv", "rb") as rows,
        ):
            while chunk := rows.read(1 << 20):
                copy.write(chunk)
        pg.commit()
        seconds = time.perf_counter() - started
        count = pg.execute("SELECT count(*) FROM raw.slack_messages").fetchone()[0]  # type: ignore[index]
    return {"rows": count, "seconds": seconds}


PAIRS = {"duckdb": ("project_duckdb", "duckdb_reference"), "postgres": ("project_postgres", "postgres_reference")}


def run_side(side: str, export: Path, postgres: str) -> dict[str, float]:
    """Run one side against a warehouse of its own (a fresh DuckDB file or PostgreSQL database)."""
    if side.endswith("duckdb") or side == "duckdb_reference":
        with tempfile.TemporaryDirectory(prefix="kpi-bench-wh-") as tmp:
            url = f"duckdb:///{tmp}/wh.duckdb"
            return project_load(url, export) if side == "project_duckdb" else duckdb_reference(url, export)
    import psycopg

    name = f"kpi_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = f"{postgres.rpartition('/')[0]}/{name}"
    try:
        return project_load(url, export) if side == "project_postgres" else postgres_reference(url, export)
    finally:
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def child(side: str, export: Path, postgres: str) -> dict[str, float]:
    """Run one side in a fresh interpreter and return its figures, peak RSS included."""
    output = subprocess.run(
        [sys.executable, __file__, "--child", side, "--export", str(export), "--postgres", postgres],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--export", type=Path, help="a Slack export folder (default: generate the demo company)")
    parser.add_argument("--scale", type=int, default=20, help="demo company scale when generating (100 ≈ 1.1M msgs)")
    parser.add_argument("--pairs", type=int, default=3, help="interleaved pairs per engine")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test", help="server to use")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        figures = run_side(args.child, args.export, args.postgres)
        figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(figures))
        return

    with tempfile.TemporaryDirectory(prefix="kpi-bench-") as scratch:
        export = slack_export(args.export, args.scale, Path(scratch))
        print(f"export: {describe_export(export)}, {os.cpu_count()} cores")
        for engine, (project, reference) in PAIRS.items():
            ratios = []
            for n in range(1, args.pairs + 1):
                load = os.getloadavg()[0]
                ours, theirs = child(project, export, args.postgres), child(reference, export, args.postgres)
                if ours["rows"] != theirs["rows"]:
                    sys.exit(f"{engine}: the project loaded {ours['rows']:,} rows, the reference {theirs['rows']:,}")
                ratio = theirs["seconds"] / ours["seconds"]  # rows/s ratio, the row counts being equal
                ratios.append(ratio)
                print(f"{engine} pair {n} (load {load:.2f}): project {ours['seconds']:.2f} s "
                      f"({ours['rows'] / ours['seconds']:,.0f} rows/s, peak RSS {ours['peak_rss_mb']:,.0f} MB), "
                      f"reference {theirs['seconds']:.2f} s (peak RSS {theirs['peak_rss_mb']:,.0f} MB): "
                      f"{ratio:.2f}x")  # fmt: skip
            print(f"{engine}: median {statistics.median(ratios):.2f}x of the reference over {len(ratios)} pairs, "
                  f"{int(ours['rows']):,} rows each")  # fmt: skip


if __name__ == "__main__":
    main()
