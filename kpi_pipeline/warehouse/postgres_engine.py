"""PostgreSQL engine (psycopg 3): the production warehouse.

Bulk loads use COPY in CSV: DuckDB renders a whole frame as CSV in its own (multi-threaded) code and the
file goes to the server in 1 MB writes, so no row passes through Python. Writers of the same table and day
take a transaction-scoped advisory lock, so two concurrent publishes of one day run one after the other and
never leave two copies.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import zlib
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import psycopg

from kpi_pipeline.warehouse.duckdb_engine import typed_select
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
        unknown = set(df.columns) - set(table.column_names)
        if unknown:
            raise WarehouseError(f"{table.qualified} has no column(s) {sorted(unknown)}")
        cols = ", ".join(table.column_names)
        with tempfile.TemporaryDirectory(prefix="kpi-copy-") as scratch:
            csv_path = Path(scratch) / "rows.csv"
            if not write_csv(table, df, csv_path):
                return self._insert_rows(table, df)
            with (
                self.con.cursor() as cur,
                cur.copy(f"COPY {table.qualified} ({cols}) FROM STDIN (FORMAT csv)") as copy,
                open(csv_path, "rb") as rows,
            ):
                while chunk := rows.read(COPY_CHUNK_BYTES):
                    copy.write(chunk)
        return len(df)

    def _insert_rows(self, table: Table, df: pd.DataFrame) -> int:
        """COPY converting row by row in Python: for frames DuckDB cannot type, so PostgreSQL judges every value."""
        cols = ", ".join(table.column_names)
        n = 0
        with self.con.cursor() as cur, cur.copy(f"COPY {table.qualified} ({cols}) FROM STDIN") as copy:
            for row in rows_for(table, df):
                copy.write_row(row)
                n += 1
        return n


COPY_CHUNK_BYTES = 1 << 20
_TEXT_SOURCES = {"VARCHAR", '"NULL"'}  # DuckDB's types of a pandas str column and of an all-None one


def write_csv(table: Table, df: pd.DataFrame, path: Path) -> bool:
    """Write `df` as CSV rows in the table's column order and types, as PostgreSQL's `COPY ... (FORMAT csv)` reads
    them: every value quoted, NULL unquoted and empty, so an empty string stays an empty string.

    False when DuckDB cannot type the frame losslessly (mixed naive and aware timestamps, a TEXT column holding
    lists or numbers): the caller then loads it row by row and PostgreSQL gives its usual error or value.
    """
    con = _csv_writer()
    con.register("frame", df)
    try:
        frame = con.sql("SELECT * FROM frame")
        source = {name: str(type_) for name, type_ in zip(frame.columns, frame.dtypes, strict=True)}
        if any(c.type == "TEXT" and source.get(c.name, "VARCHAR") not in _TEXT_SOURCES for c in table.columns):
            return False
        con.execute(
            f"COPY (SELECT {typed_select(table, df)} FROM frame) TO '{path}' (FORMAT csv, HEADER false, FORCE_QUOTE *)"
        )
        return True
    except duckdb.Error:
        return False
    finally:
        con.unregister("frame")


_writers = threading.local()


def _csv_writer() -> duckdb.DuckDBPyConnection:
    """This thread's in-memory DuckDB connection for writing CSV (opening one costs tens of ms, a day's load)."""
    con: duckdb.DuckDBPyConnection | None = getattr(_writers, "con", None)
    if con is None:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        _writers.con = con
    return con


# one advisory lock for schema DDL and catalog publishes (the key predates ensure_tables taking it)
DDL_LOCK = "kpi.catalog_and_views"


class PostgresWarehouse(Warehouse):
    engine = "postgres"
    temp_schema = "pg_temp"

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
