"""A day replace on PostgreSQL as the table grows: with the `day` index (the project's tables) and without it.

    .venv/bin/python bench/bench_day_replace.py                    # 100 days of 12,000 Slack rows, 2 pairs
    .venv/bin/python bench/bench_day_replace.py --days 200 --rows 6000 --postgres postgresql://postgres@host/db

Each side fills `raw.slack_messages` of a fresh scratch database day by day with `Warehouse.replace_days` (the
path every ingest asset takes: lock, `DELETE ... WHERE day IN (...)`, COPY), then replaces a day that is already
there (a re-run). "index" is the table as the project creates it; "no index" drops the day index first, as the
table was before issue #16. Sides run as interleaved pairs (index, no index, index, ...) so both see the same
load. Printed per side: seconds a day over the first and the last 10 days (linear means the last cost what the
first did), the re-run's seconds, and the tuples PostgreSQL read by sequential scans (`pg_stat_user_tables`).
Target (issue #16): linear, where the table without the index grows with the square of the days.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import psycopg
from psycopg import sql

from kpi_pipeline.warehouse import open_warehouse
from kpi_pipeline.warehouse.engine import partition_index
from kpi_pipeline.warehouse.tables import RAW_SLACK_MESSAGES

FIRST_DAY = date(2026, 7, 1)
SCRATCH_DB = "kpi_bench_day_replace"


def day_rows(day: date, rows: int) -> pd.DataFrame:
    """`rows` messages of `day`, one channel per 1,000, shaped like the demo's."""
    at = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    base = at.timestamp()
    return pd.DataFrame(
        {
            "channel_id": [f"C{i // 1000:04d}" for i in range(rows)],
            "channel_name": [f"team-{i // 1000}" for i in range(rows)],
            "ts": [f"{base + i:.6f}" for i in range(rows)],
            "thread_ts": [None] * rows,
            "user_id": [f"U{i % 300:04d}" for i in range(rows)],
            "subtype": [None] * rows,
            "text": [f"signups are {i % 97} today, churn holds at 2.{i % 10}%" for i in range(rows)],
            "reply_count": pd.array([None] * rows, dtype="Int64"),
            "permalink": [f"https://acme.slack.com/archives/C{i // 1000:04d}/p{int(base) + i}" for i in range(rows)],
            "day": [day] * rows,
            "ingested_at": [datetime.now(UTC)] * rows,
        }
    )


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A fresh database on the same server, dropped afterwards; yields its URL."""
    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(SCRATCH_DB)))
        con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(SCRATCH_DB)))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + SCRATCH_DB
    finally:
        with psycopg.connect(admin_url, autocommit=True) as con:
            con.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(SCRATCH_DB)))


def seq_tuples_read(url: str) -> int:
    with psycopg.connect(url) as con:
        row = con.execute(
            "SELECT coalesce(seq_tup_read, 0) FROM pg_stat_user_tables WHERE schemaname = 'raw' "
            "AND relname = 'slack_messages'"
        ).fetchone()
    return int(row[0]) if row else 0


def one_side(admin_url: str, indexed: bool, days: int, rows: int) -> dict[str, float]:
    frames = [day_rows(FIRST_DAY + timedelta(days=d), rows) for d in range(days)]  # built before the clock
    with scratch_database(admin_url) as url:
        wh = open_warehouse(url)
        wh.ensure_tables([RAW_SLACK_MESSAGES])
        if not indexed:
            for statement in partition_index(RAW_SLACK_MESSAGES):
                wh.execute(f"DROP INDEX raw.{statement.split()[5]}")
        seconds = []
        for d, frame in enumerate(frames):
            started = time.perf_counter()
            wh.replace_days(RAW_SLACK_MESSAGES, [FIRST_DAY + timedelta(days=d)], frame)
            seconds.append(time.perf_counter() - started)
        middle = days // 2
        started = time.perf_counter()
        wh.replace_days(RAW_SLACK_MESSAGES, [FIRST_DAY + timedelta(days=middle)], frames[middle])
        rerun = time.perf_counter() - started
        time.sleep(0.7)  # the statistics collector reports at most every 500 ms
        scanned = seq_tuples_read(url)
    window = min(10, days)
    return {
        "first": sum(seconds[:window]) / window,
        "last": sum(seconds[-window:]) / window,
        "rerun": rerun,
        "total": sum(seconds),
        "seq_tuples": scanned,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--postgres", default=os.environ.get("KPI_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    )
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--rows", type=int, default=12_000, help="rows a day (the scale-100 quarter: about 12,000)")
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args(argv)

    print(f"PostgreSQL day replace, {args.days} days of {args.rows:,} rows a day, nproc {os.cpu_count()}")
    print(
        f"{'pair':>4} {'side':>8} {'first s/day':>11} {'last s/day':>10} {'last/first':>10} "
        f"{'re-run s':>8} {'total s':>8} {'seq tuples read':>16} {'load':>5}"
    )
    growth: dict[str, list[float]] = {"index": [], "no index": []}
    for pair in range(1, args.pairs + 1):
        for side, indexed in (("index", True), ("no index", False)):
            r = one_side(args.postgres, indexed, args.days, args.rows)
            growth[side].append(r["last"] / r["first"])
            print(
                f"{pair:>4} {side:>8} {r['first']:>11.3f} {r['last']:>10.3f} {r['last'] / r['first']:>9.2f}x "
                f"{r['rerun']:>8.3f} {r['total']:>8.1f} {int(r['seq_tuples']):>16,} {os.getloadavg()[0]:>5.2f}",
                flush=True,
            )
    for side, ratios in growth.items():
        print(f"{side}: last 10 days cost {', '.join(f'{g:.2f}x' for g in ratios)} the first 10")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
