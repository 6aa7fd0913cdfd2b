"""A day replace is an index range delete: every day-partitioned table has an index on its day, on both engines,
and a warehouse created before the index existed gets it through the schema versions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import psycopg

from kpi_pipeline.warehouse import Warehouse, open_warehouse
from kpi_pipeline.warehouse.engine import partition_index
from kpi_pipeline.warehouse.tables import ALL_TABLES, RAW_SLACK_MESSAGES

DAY_TABLES = [t for t in ALL_TABLES if t.partition_column in t.column_names]


def indexed_day_tables(wh: Warehouse) -> set[str]:
    """Tables with an index whose first column is the partition column, the primary key's included."""
    if wh.engine == "postgres":
        rows = wh.query_df(
            "SELECT n.nspname || '.' || c.relname AS tbl, a.attname AS col FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]"
        )
    else:
        rows = wh.query_df("SELECT schema_name || '.' || table_name AS tbl, expressions AS col FROM duckdb_indexes()")
        rows["col"] = rows["col"].astype(str).str.strip("[]'\"")
        keyed = pd.DataFrame({"tbl": [t.qualified for t in DAY_TABLES], "col": [t.key[0] for t in DAY_TABLES]})
        rows = pd.concat([rows, keyed])  # DuckDB lists no primary-key index; the key starts with `key[0]`
    return {r.tbl for r in rows.itertuples() if r.col in {"day", "week_start"}}


def test_every_day_partitioned_table_is_indexed_on_its_day(warehouse: Warehouse) -> None:
    assert indexed_day_tables(warehouse) >= {t.qualified for t in DAY_TABLES}


def test_a_warehouse_from_before_the_index_gets_it(warehouse: Warehouse) -> None:
    for t in DAY_TABLES:
        for statement in partition_index(t):
            warehouse.execute(f"DROP INDEX {t.schema}.{statement.split()[5]}")
    warehouse.execute("UPDATE kpi_meta.schema_version SET fingerprint = 'before-the-index'")
    assert indexed_day_tables(warehouse) < {t.qualified for t in DAY_TABLES}
    warehouse.ensure_tables()
    assert indexed_day_tables(warehouse) >= {t.qualified for t in DAY_TABLES}


def test_postgres_deletes_a_day_through_the_index(postgres_url: str) -> None:
    wh = open_warehouse(postgres_url)
    wh.ensure_tables([RAW_SLACK_MESSAGES])
    first = date(2026, 7, 1)
    n = 20_000
    at = datetime(2026, 7, 1, tzinfo=UTC)
    wh.replace_days(
        RAW_SLACK_MESSAGES,
        [first + timedelta(days=d) for d in range(100)],
        pd.DataFrame(
            {
                "channel_id": ["C1"] * n,
                "ts": [f"{i}.000100" for i in range(n)],
                "day": [first + timedelta(days=i % 100) for i in range(n)],
                "ingested_at": [at] * n,
            }
        ),
    )
    with psycopg.connect(postgres_url) as con:
        con.execute("ANALYZE raw.slack_messages")
        con.execute("SET enable_seqscan = off")  # a plan that can use the index must, whatever the row estimates
        plans = [
            "\n".join(r[0] for r in con.execute(f"EXPLAIN DELETE FROM raw.slack_messages WHERE {where}").fetchall())
            for where in ("day = '2026-07-05'", "day IN ('2026-07-05', '2026-07-06')")
        ]
        con.rollback()
    for plan in plans:
        assert "raw_slack_messages_day_idx" in plan
        assert "Seq Scan" not in plan
