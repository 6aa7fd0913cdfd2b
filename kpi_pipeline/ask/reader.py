"""A read-only view of the published `kpi` schema for `ask`, with row and time limits.

DuckDB: the reader copy `warehouse.read.duckdb` the pipeline publishes (the main file while no copy exists),
opened with `read_only=True` and external access off, so no file, extension or other database is reachable;
a query still running at the time limit is interrupted. PostgreSQL: every statement runs alone, prepared, in
a `READ ONLY` transaction with `statement_timeout`, `search_path` set to `kpi`, then rolled back. Every
statement passes `sql_guard.check_select` first.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kpi_pipeline.ask.sql_guard import SqlRefused, check_select
from kpi_pipeline.query import QueryError
from kpi_pipeline.warehouse import open_warehouse
from kpi_pipeline.warehouse.duckdb_engine import DuckDBWarehouse
from kpi_pipeline.warehouse.engine import redact_url
from kpi_pipeline.warehouse.postgres_engine import PostgresWarehouse

MAX_ROWS = 200
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Rows:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool  # more rows matched than the row limit let through

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class KpiReader:
    """Runs checked SELECTs on the published tables; `select` raises SqlRefused or QueryError, one line each."""

    def __init__(self, url: str, *, max_rows: int = MAX_ROWS, timeout_s: float = TIMEOUT_S) -> None:
        self.url = url
        self.max_rows = max_rows
        self.timeout_s = timeout_s
        self._warehouse = open_warehouse(url)
        if not isinstance(self._warehouse, DuckDBWarehouse | PostgresWarehouse):
            raise QueryError(f"KPI_WAREHOUSE_URL={redact_url(url)!r}: ask reads DuckDB and PostgreSQL only")

    def select(self, sql: str, *, max_rows: int | None = None) -> Rows:
        check_select(sql)
        limit = self.max_rows if max_rows is None else max_rows
        if isinstance(self._warehouse, DuckDBWarehouse):
            return self._duckdb(self._warehouse, sql, limit)
        assert isinstance(self._warehouse, PostgresWarehouse)
        return self._postgres(self._warehouse, sql, limit)

    def _duckdb(self, warehouse: DuckDBWarehouse, sql: str, limit: int) -> Rows:
        import duckdb

        path = duckdb_read_path(warehouse)
        try:
            con = duckdb.connect(str(path), read_only=True, config={"enable_external_access": False})
        except duckdb.Error as exc:
            raise QueryError(f"cannot open {path} read-only: {_line(exc)}") from None
        timer = threading.Timer(self.timeout_s, con.interrupt)
        try:
            con.execute("SET TimeZone = 'UTC'")
            timer.start()
            cursor = con.execute(sql)
            return _fetch(cursor, [d[0] for d in cursor.description or []], limit)
        except duckdb.InterruptException:
            raise SqlRefused(f"the query ran longer than the {self.timeout_s:g} s limit and was stopped") from None
        except duckdb.Error as exc:
            raise QueryError(_line(exc)) from None
        finally:
            timer.cancel()
            con.close()

    def _postgres(self, warehouse: PostgresWarehouse, sql: str, limit: int) -> Rows:
        import psycopg
        from psycopg import errors

        try:
            con = psycopg.connect(warehouse.conninfo, connect_timeout=warehouse.connect_timeout_s)
        except psycopg.OperationalError as exc:
            raise QueryError(f"cannot connect to PostgreSQL at {redact_url(warehouse.url)}: {_line(exc)}") from None
        try:
            con.read_only = True  # BEGIN READ ONLY
            cursor = con.cursor()
            cursor.execute("SET LOCAL TIME ZONE 'UTC'")
            cursor.execute("SET LOCAL search_path = kpi")
            cursor.execute(f"SET LOCAL statement_timeout = {int(self.timeout_s * 1000)}")
            cursor.execute(sql, prepare=True)  # a prepared statement is exactly one statement
            return _fetch(cursor, [d.name for d in cursor.description or []], limit)
        except errors.QueryCanceled:
            raise SqlRefused(f"the query ran longer than the {self.timeout_s:g} s limit and was stopped") from None
        except psycopg.Error as exc:
            raise QueryError(_line(exc)) from None
        finally:
            con.rollback()
            con.close()


def duckdb_read_path(warehouse: DuckDBWarehouse) -> Path:
    """The reader copy when the pipeline has published one, else the warehouse file itself."""
    for path in (warehouse.reader_path, warehouse.path):
        if path.is_file():
            return path
    raise QueryError(f"no warehouse at {warehouse.path} (KPI_WAREHOUSE_URL={warehouse.url}): run `make demo` first")


def _fetch(cursor: Any, columns: list[str], limit: int) -> Rows:
    if not columns:
        return Rows([], [], False)
    rows = [tuple(r) for r in cursor.fetchmany(limit + 1)]
    return Rows(columns, rows[:limit], len(rows) > limit)


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
