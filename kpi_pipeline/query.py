"""`kpi-pipeline sql`: one read-only SQL statement against the configured warehouse, printed as a table.

Read-only on both engines, so a query typed to look around can never change a published value: DuckDB opens
the file with `read_only=True`; PostgreSQL runs the statement in a `READ ONLY` transaction, as a single
prepared statement (so a `COMMIT; ...` inside the text cannot end that transaction), then rolls back.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from kpi_pipeline.warehouse import open_warehouse
from kpi_pipeline.warehouse.duckdb_engine import DuckDBWarehouse
from kpi_pipeline.warehouse.engine import redact_url
from kpi_pipeline.warehouse.postgres_engine import PostgresWarehouse

MAX_CELL = 60  # characters of a cell shown in a table; --csv prints every character


class QueryError(ValueError):
    """A query the warehouse refused, or a warehouse that cannot be queried; the message is one line."""


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def run_query(url: str, sql: str) -> QueryResult:
    """Run one statement read-only on the warehouse `url` names and return its rows."""
    if not sql.strip():
        raise QueryError("the query is empty: give one SQL statement, e.g. SELECT * FROM kpi.okr_progress")
    warehouse = open_warehouse(url)
    if isinstance(warehouse, DuckDBWarehouse):
        return _duckdb(warehouse, sql)
    if isinstance(warehouse, PostgresWarehouse):
        return _postgres(warehouse, sql)
    raise QueryError(f"KPI_WAREHOUSE_URL={redact_url(url)!r}: kpi-pipeline sql reads DuckDB and PostgreSQL only")


def _duckdb(warehouse: DuckDBWarehouse, sql: str) -> QueryResult:
    import duckdb

    path = warehouse.path
    if not path.is_file():
        raise QueryError(
            f"no warehouse at {path} (KPI_WAREHOUSE_URL={warehouse.url}): run `make demo` or a backfill first"
        )
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise QueryError(f"cannot open {path} read-only (is a run writing it? try again): {_line(exc)}") from None
    try:
        con.execute("SET TimeZone = 'UTC'")
        if len(con.extract_statements(sql)) != 1:
            raise QueryError("give one SQL statement at a time")
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description or []]
        return QueryResult(columns, cursor.fetchall() if columns else [])
    except duckdb.Error as exc:
        raise QueryError(_line(exc)) from None
    finally:
        con.close()


def _postgres(warehouse: PostgresWarehouse, sql: str) -> QueryResult:
    import psycopg

    try:
        con = psycopg.connect(warehouse.conninfo, connect_timeout=warehouse.connect_timeout_s)
    except psycopg.OperationalError as exc:
        raise QueryError(f"cannot connect to PostgreSQL at {redact_url(warehouse.url)}: {_line(exc)}") from None
    try:
        con.read_only = True  # psycopg begins the transaction with BEGIN READ ONLY
        cursor = con.cursor()
        cursor.execute("SET TIME ZONE 'UTC'")
        cursor.execute(sql, prepare=True)  # a prepared statement is exactly one statement
        columns = [d.name for d in cursor.description or []]
        return QueryResult(columns, cursor.fetchall() if columns else [])
    except psycopg.Error as exc:
        raise QueryError(_line(exc)) from None
    finally:
        con.rollback()
        con.close()


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def format_table(result: QueryResult) -> str:
    """Columns padded to their widest cell (numbers to the right), cells cut at MAX_CELL, a row count last."""
    cells = [[_cell(v) for v in row] for row in result.rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(result.columns)]
    right = [bool(result.rows) and all(_numeric(r[i]) for r in result.rows) for i in range(len(result.columns))]

    def line(values: list[str]) -> str:
        padded = (v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True))
        return " | ".join(padded).rstrip()

    out = [line(result.columns), "-+-".join("-" * w for w in widths)] if result.columns else []
    out += [line(r) for r in cells]
    n = len(result.rows)
    out.append(f"({n} row{'' if n == 1 else 's'})")
    return "\n".join(out)


def format_csv(result: QueryResult) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows([["" if v is None else _text(v) for v in row] for row in result.rows])
    return buffer.getvalue().rstrip("\n")


def _numeric(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float, Decimal)) and not isinstance(value, bool))


def _text(value: Any) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    text = " ".join(_text(value).split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"
