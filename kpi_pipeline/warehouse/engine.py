"""One warehouse interface, two engines.

Everything that writes goes through `replace_days` or `transaction`, so replacing a partition is one
transaction: readers see the old day or the new day, never a gap and never both. SQL uses `?`
placeholders on both engines.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from kpi_pipeline.warehouse.tables import ALL_TABLES, Column, Table


class WarehouseError(RuntimeError):
    """A warehouse problem a user can act on (bad URL, unreachable server, locked file)."""


META_SCHEMA = "kpi_meta"
SCHEMA_VERSION = f"{META_SCHEMA}.schema_version"


@dataclass(frozen=True)
class SchemaObject:
    """A table or view the code defines, as the idempotent DDL statements that bring it up to date."""

    schema: str
    name: str
    statements: tuple[str, ...]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256("\n".join(self.statements).encode()).hexdigest()[:16]


class Transaction(abc.ABC):
    """An open transaction: statements run inside it commit together or not at all."""

    @abc.abstractmethod
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None: ...

    @abc.abstractmethod
    def query_df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame: ...

    @abc.abstractmethod
    def insert_df(self, table: Table, df: pd.DataFrame) -> int:
        """Append the rows of `df` (columns named as the table's; missing ones become NULL)."""

    def delete_days(self, table: Table, days: Sequence[date]) -> None:
        if not days:
            return
        marks = ", ".join("?" for _ in days)
        self.execute(f"DELETE FROM {table.qualified} WHERE {table.partition_column} IN ({marks})", list(days))


class Warehouse(abc.ABC):
    """A SQL warehouse the pipeline writes its tables to."""

    engine: str
    url: str
    temp_schema: str  # where the temporary tables of a connection are named

    @abc.abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[Transaction]: ...

    @abc.abstractmethod
    def session(self) -> contextlib.AbstractContextManager[None]:
        """Keep one connection open for many transactions (a whole backfill step), instead of one each."""

    def one_reader_refresh(self) -> contextlib.AbstractContextManager[None]:
        """Write sessions inside the block show readers their work once, when the block ends (a step that writes
        chunk by chunk); a no-op where readers query the tables themselves."""
        return contextlib.nullcontext()

    @abc.abstractmethod
    def lock_partition(self, tx: Transaction, table: Table, days: Sequence[date]) -> None:
        """Serialize writers of the same table and days (no-op where the engine has one writer)."""

    @abc.abstractmethod
    def lock_ddl(self, tx: Transaction) -> None:
        """Serialize schema changes and catalog publishes (no-op where the engine has one writer)."""

    def ensure_tables(self, tables: Iterable[Table] = ALL_TABLES) -> None:
        """Create schemas and tables that do not exist yet, add columns a contract gained (idempotent)."""
        self.ensure_schema([self.table_object(t) for t in tables])

    def table_object(self, t: Table) -> SchemaObject:
        cols = ", ".join(f"{c.name} {self.column_type(c.type)}{'' if c.nullable else ' NOT NULL'}" for c in t.columns)
        create = f"CREATE TABLE IF NOT EXISTS {t.qualified} ({cols}, PRIMARY KEY ({', '.join(t.key)}))"
        added = tuple(  # columns added to a contract after the table was created
            f"ALTER TABLE {t.qualified} ADD COLUMN IF NOT EXISTS {c.name} {self.column_type(c.type)}"
            for c in t.columns
            if c.nullable
        )
        return SchemaObject(t.schema, t.name, (create, *added, *partition_index(t)))

    def ensure_schema(self, objects: Sequence[SchemaObject]) -> None:
        """Run the DDL of the objects whose definition changed since it last ran here, or that are missing.

        A warehouse already up to date costs one catalog read and takes no lock, so BI queries never wait
        behind a pipeline step; otherwise the DDL runs under `lock_ddl`, so first runs in several processes
        take turns instead of racing on CREATE SCHEMA. Objects run in the given order (tables before views).
        """
        if not self._stale(self, objects):
            return
        with self.transaction() as tx:
            self.lock_ddl(tx)
            tx.execute(f"CREATE SCHEMA IF NOT EXISTS {META_SCHEMA}")
            tx.execute(
                f"CREATE TABLE IF NOT EXISTS {SCHEMA_VERSION} (object TEXT PRIMARY KEY, fingerprint TEXT NOT NULL)"
            )
            stale = self._stale(tx, objects)  # again under the lock: another process may have done it meanwhile
            for schema in sorted({o.schema for o in stale}):
                tx.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            for o in stale:
                for statement in o.statements:
                    tx.execute(statement)
                tx.execute(f"DELETE FROM {SCHEMA_VERSION} WHERE object = ?", [o.qualified])
                tx.execute(
                    f"INSERT INTO {SCHEMA_VERSION} (object, fingerprint) VALUES (?, ?)", [o.qualified, o.fingerprint]
                )

    @staticmethod
    def _stale(db: Warehouse | Transaction, objects: Sequence[SchemaObject]) -> list[SchemaObject]:
        """The objects that are missing or whose recorded fingerprint is not the code's."""
        schemas = sorted({o.schema for o in objects} | {META_SCHEMA})
        marks = ", ".join("?" for _ in schemas)
        present = db.query_df(
            f"SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN ({marks})", schemas
        )
        existing = {f"{r.table_schema}.{r.table_name}" for r in present.itertuples(index=False)}
        applied: dict[str, str] = {}
        if SCHEMA_VERSION in existing:
            versions = db.query_df(f"SELECT object, fingerprint FROM {SCHEMA_VERSION}")
            applied = dict(zip(versions["object"], versions["fingerprint"], strict=True))
        return [o for o in objects if o.qualified not in existing or applied.get(o.qualified) != o.fingerprint]

    def column_type(self, portable: str) -> str:
        return portable

    def replace_days(self, table: Table, days: Sequence[date], df: pd.DataFrame) -> int:
        """Replace every row of `days` in `table` with `df`, in one transaction."""
        outside = _days_outside(df, table, days)
        if outside:
            raise WarehouseError(
                f"rows for {table.qualified} fall outside the days being replaced: {sorted(outside)[:5]}"
            )
        with self.transaction() as tx:
            self.lock_partition(tx, table, days)
            tx.delete_days(table, days)
            return tx.insert_df(table, df)

    def stage_df(self, tx: Transaction, name: str, columns: Sequence[Column], df: pd.DataFrame) -> Table:
        """`df` as a temporary table of this connection (replacing one of that name; gone when the session ends),
        so rows loaded once can be copied many times by INSERT ... SELECT inside the engine."""
        table = Table(self.temp_schema, name, tuple(columns), key=())
        tx.execute(f"DROP TABLE IF EXISTS {table.qualified}")
        cols = ", ".join(f"{c.name} {self.column_type(c.type)}" for c in table.columns)
        tx.execute(f"CREATE TEMP TABLE {table.qualified} ({cols})")
        tx.insert_df(table, df)
        return table

    def query_df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        with self.transaction() as tx:
            return tx.query_df(sql, params)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        with self.transaction() as tx:
            tx.execute(sql, params)

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        df = self.query_df(sql, params)
        return None if df.empty else df.iat[0, 0]


def partition_index(t: Table) -> tuple[str, ...]:
    """An index on the partition column, so replacing a day deletes an index range instead of scanning the table.

    None where the table has no such column, or where its primary key already starts with it."""
    if t.partition_column not in t.column_names or t.key[0] == t.partition_column:
        return ()
    name = f"{t.schema}_{t.name}_{t.partition_column}_idx"
    return (f"CREATE INDEX IF NOT EXISTS {name} ON {t.qualified} ({t.partition_column})",)


def _days_outside(df: pd.DataFrame, table: Table, days: Sequence[date]) -> set[date]:
    if df.empty or table.partition_column not in df.columns:
        return set()
    present = {_as_date(v) for v in df[table.partition_column].unique()}
    return present - set(days)


def _as_date(value: Any) -> date:
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def python_value(value: Any) -> Any:
    """pandas' missing markers and numpy scalars as plain Python values for drivers."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def rows_for(table: Table, df: pd.DataFrame) -> Iterator[tuple[Any, ...]]:
    """Rows of `df` in the table's column order; missing columns become NULL."""
    unknown = set(df.columns) - set(table.column_names)
    if unknown:
        raise WarehouseError(f"{table.qualified} has no column(s) {sorted(unknown)}")
    cols = [df[c] if c in df.columns else None for c in table.column_names]
    n = len(df)
    lists = [list(c) if c is not None else [None] * n for c in cols]
    for i in range(n):
        yield tuple(python_value(col[i]) for col in lists)


def open_warehouse(url: str, duckdb_memory_limit: str | None = None) -> Warehouse:
    """Open the warehouse a URL names: `duckdb:///relative/path.duckdb`, `duckdb:////abs/path.duckdb`,
    or `postgresql://user@host:port/db` (psycopg 3). `duckdb_memory_limit` caps a DuckDB file's memory."""
    if url.startswith("duckdb://"):
        from kpi_pipeline.warehouse.duckdb_engine import DuckDBWarehouse

        path = url[len("duckdb://") :]
        if path.startswith("/"):
            path = path[1:]
        if not path:
            raise WarehouseError(f"KPI_WAREHOUSE_URL={url!r} names no file; use duckdb:///data/warehouse.duckdb")
        return DuckDBWarehouse(path, url=url, memory_limit=duckdb_memory_limit)
    scheme = url.split("://", 1)[0]
    if scheme in {"postgresql", "postgres", "postgresql+psycopg"}:
        from kpi_pipeline.warehouse.postgres_engine import PostgresWarehouse

        conninfo = "postgresql://" + url.split("://", 1)[1]
        if not _database_of(conninfo):  # libpq would fall back to the `postgres` database (or the user's)
            raise WarehouseError(
                f"KPI_WAREHOUSE_URL={_redact(url)!r} names no database: write postgresql://user@host:5432/kpi "
                "(the database the kpi, raw and extract schemas go in; create it first)"
            )
        return PostgresWarehouse(conninfo, url=url)
    raise WarehouseError(
        f"KPI_WAREHOUSE_URL={_redact(url)!r} is not supported: use duckdb:///path/to/file.duckdb "
        "or postgresql://user@host:5432/database"
    )


def _database_of(conninfo: str) -> str | None:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        return str(conninfo_to_dict(conninfo).get("dbname") or "") or None
    except psycopg.ProgrammingError as exc:  # not a URL libpq can parse
        raise WarehouseError(f"KPI_WAREHOUSE_URL={_redact(conninfo)!r} is not a valid PostgreSQL URL: {exc}") from None


def _redact(url: str) -> str:
    """Hide a password in a URL so it never reaches logs or metadata."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url


redact_url = _redact
