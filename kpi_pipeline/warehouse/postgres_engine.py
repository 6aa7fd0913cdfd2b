"""PostgreSQL engine (psycopg 3): the production warehouse.

Bulk loads use COPY. Writers of the same table and day take a transaction-scoped advisory lock, so two
concurrent publishes of one day run one after the other and never leave two copies.
"""

from __future__ import annotations

import contextlib
import threading
import zlib
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

import pandas as pd
import psycopg

from kpi_pipeline.warehouse.engine import Transaction, Warehouse, WarehouseError, redact_url, rows_for
from kpi_pipeline.warehouse.tables import Table


def to_pyformat(sql: str) -> str:
    """Turn `?` placeholders into psycopg's `%s`, leaving quoted text alone and escaping literal `%`."""
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if quote:
            out.append("%%" if ch == "%" else ch)
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


class _PgTransaction(Transaction):
    def __init__(self, con: psycopg.Connection[Any]) -> None:
        self.con = con

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self.con.execute(to_pyformat(sql) if params is not None else sql, params)

    def query_df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        cur = self.con.execute(to_pyformat(sql) if params is not None else sql, params)
        cols = [d.name for d in cur.description or []]
        return pd.DataFrame(cur.fetchall(), columns=cols)

    def insert_df(self, table: Table, df: pd.DataFrame) -> int:
        if df.empty:
            return 0
        cols = ", ".join(table.column_names)
        n = 0
        with self.con.cursor() as cur, cur.copy(f"COPY {table.qualified} ({cols}) FROM STDIN") as copy:
            for row in rows_for(table, df):
                copy.write_row(row)
                n += 1
        return n


# one advisory lock for schema DDL and catalog publishes (the key predates ensure_tables taking it)
DDL_LOCK = "kpi.catalog_and_views"


class PostgresWarehouse(Warehouse):
    engine = "postgres"

    def __init__(self, conninfo: str, url: str | None = None, connect_timeout_s: int = 10) -> None:
        self.conninfo = conninfo
        self.url = url or conninfo
        self.connect_timeout_s = connect_timeout_s
        self._local = threading.local()

    def lock_partition(self, tx: Transaction, table: Table, days: Sequence[date]) -> None:
        for day in sorted(set(days)):
            key = zlib.crc32(f"{table.qualified}/{day.isoformat()}".encode())
            tx.execute("SELECT pg_advisory_xact_lock(?)", [key])

    def lock_ddl(self, tx: Transaction) -> None:
        tx.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [DDL_LOCK])

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.conninfo, connect_timeout=self.connect_timeout_s)
        except psycopg.OperationalError as exc:
            raise WarehouseError(
                f"cannot connect to PostgreSQL at {redact_url(self.url)}: {str(exc).strip()}. "
                "Check KPI_WAREHOUSE_URL and that the server is running."
            ) from exc

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        if getattr(self._local, "con", None) is not None:
            yield
            return
        self._local.con = self._connect()
        try:
            yield
        finally:
            self._local.con.close()
            self._local.con = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        shared = getattr(self._local, "con", None)
        con = shared if shared is not None else self._connect()
        try:
            with con.transaction():
                con.execute("SET LOCAL TIME ZONE 'UTC'")
                yield _PgTransaction(con)
        finally:
            if shared is None:
                con.close()
