"""DuckDB engine: the embedded default.

DuckDB allows one writer process per file, so every connection holds an exclusive `flock` on a lock
file beside the database. Processes (Dagster run workers, the CLI) take turns instead of failing with
"Could not set lock on file".

Readers (BI tools, the `duckdb` CLI) use the reader copy beside it, `warehouse.read.duckdb` for
`warehouse.duckdb`: whenever a connection that wrote is released, the file is checkpointed and copied
there, replacing the copy in one rename. A reader that opens the copy read-only never waits for the
pipeline and never makes it wait; it sees the state of the last released write session.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from kpi_pipeline.warehouse.engine import Transaction, Warehouse, WarehouseError
from kpi_pipeline.warehouse.tables import Table

_TYPES = {"DOUBLE PRECISION": "DOUBLE", "TEXT": "VARCHAR"}


class _DuckTransaction(Transaction):
    def __init__(self, con: duckdb.DuckDBPyConnection, wrote: Callable[[], None]) -> None:
        self.con = con
        self.wrote = wrote  # execute and insert_df may change the file; query_df only reads

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self.wrote()
        self.con.execute(sql, list(params) if params is not None else None)

    def query_df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        return self.con.execute(sql, list(params) if params is not None else None).df()

    def insert_df(self, table: Table, df: pd.DataFrame) -> int:
        if df.empty:
            return 0
        self.wrote()
        unknown = set(df.columns) - set(table.column_names)
        if unknown:
            raise WarehouseError(f"{table.qualified} has no column(s) {sorted(unknown)}")
        select = typed_select(table, df)
        view = f"_insert_{threading.get_ident()}"
        self.con.register(view, df)
        try:
            self.con.execute(f"INSERT INTO {table.qualified} SELECT {select} FROM {view}")
        finally:
            with contextlib.suppress(duckdb.Error):  # an aborted transaction refuses even this
                self.con.unregister(view)
        return len(df)


def typed_select(table: Table, df: pd.DataFrame) -> str:
    """The SELECT list that turns a frame's columns into the table's, in its order and types (NULL if missing)."""
    return ", ".join(
        f"CAST({_quote(c.name)} AS {_TYPES.get(c.type, c.type)})" if c.name in df.columns else "NULL"
        for c in table.columns
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class DuckDBWarehouse(Warehouse):
    engine = "duckdb"
    temp_schema = "temp"

    def __init__(
        self, path: str, url: str | None = None, lock_timeout_s: float = 600.0, memory_limit: str | None = None
    ) -> None:
        self.path = Path(path)
        self.url = url or f"duckdb:///{path}"
        self.lock_timeout_s = lock_timeout_s
        # KPI_DUCKDB_MEMORY_LIMIT: DuckDB's own default is 80% of RAM, which it fills with cached blocks
        self.memory_limit = memory_limit
        self._local = threading.local()

    @property
    def reader_path(self) -> Path:
        """The copy readers open read-only: `warehouse.read.duckdb` beside `warehouse.duckdb`."""
        return self.path.with_name(f"{self.path.stem}.read{self.path.suffix or '.duckdb'}")

    def column_type(self, portable: str) -> str:
        return _TYPES.get(portable, portable)

    def lock_partition(self, tx: Transaction, table: Table, days: Sequence[date]) -> None:
        """The file lock already makes this process the only writer."""

    def lock_ddl(self, tx: Transaction) -> None:
        """The file lock already makes this process the only writer."""

    @contextlib.contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        current = getattr(self._local, "con", None)
        if current is not None:  # nested use in one thread shares the connection and the lock
            yield current
            return
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock_file = open(lock_path, "a+")  # noqa: SIM115 (closed below, after the lock is released)
        except OSError as exc:
            raise self._unwritable(exc) from None
        with lock_file:
            _flock(lock_file.fileno(), self.lock_timeout_s, self.path)
            try:
                try:
                    con = duckdb.connect(str(self.path), config=self._config())
                except duckdb.ParserException:  # the one setting passed to connect is the memory limit
                    raise WarehouseError(
                        f"KPI_DUCKDB_MEMORY_LIMIT={self.memory_limit!r} is not a memory size: write e.g. 1GB or 2GiB"
                    ) from None
                except duckdb.Error as exc:
                    if not _writable(self.path.parent):
                        raise self._unwritable(exc) from None
                    raise WarehouseError(f"cannot open DuckDB file {self.path}: {exc}") from exc
                self._local.con = con
                self._local.wrote = False
                try:
                    con.execute("SET TimeZone = 'UTC'")
                    yield con
                    publish = self._local.wrote or not self.reader_path.exists()
                    if publish and getattr(self._local, "deferring", False):
                        self._local.deferred, publish = True, False  # one_reader_refresh publishes at its end
                    if publish:
                        con.execute("CHECKPOINT")  # everything committed is in the file, the WAL is empty
                except duckdb.Error as exc:  # e.g. the write-ahead log cannot be created on COMMIT
                    if not _writable(self.path.parent):
                        raise self._unwritable(exc) from exc
                    raise
                finally:
                    self._local.con = None
                    con.close()
                if publish:  # still holding the lock: no writer changes the file while it is copied
                    self._publish_reader_copy()
            finally:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)

    def _config(self) -> dict[str, str | bool | int | float | list[str]]:
        return {"memory_limit": self.memory_limit} if self.memory_limit else {}

    def _mark_written(self) -> None:
        self._local.wrote = True

    @contextlib.contextmanager
    def one_reader_refresh(self) -> Iterator[None]:
        """Copy the file for readers once for the whole block, not once per write session: extraction writes a
        range chunk by chunk, and a copy of a year's warehouse takes seconds. What the block's sessions
        committed is published at its end, even when the block fails, as it would have been session by session."""
        if getattr(self._local, "deferring", False):
            yield
            return
        self._local.deferring, self._local.deferred = True, False
        finished = False
        try:
            yield
            finished = True
        finally:
            self._local.deferring = False
            if self._local.deferred:
                try:
                    with self._connection():
                        self._local.wrote = True
                except (WarehouseError, duckdb.Error, OSError):
                    if finished:  # else the block's own error is the one to report
                        raise

    def _publish_reader_copy(self) -> None:
        """Copy the checkpointed file beside itself and rename it over the reader copy (atomic on POSIX):
        a reader opens the old copy or the new one, and one that has the old one open keeps reading it."""
        target = self.reader_path
        partial = target.with_name(f".{target.name}.partial")
        try:
            shutil.copyfile(self.path, partial)
            os.replace(partial, target)
        except OSError as exc:
            raise WarehouseError(
                f"cannot refresh the reader copy {target} of the DuckDB warehouse: {exc.strerror}. The write "
                f"itself is committed; free space or permissions in {target.parent}, then run the step again"
            ) from None

    def _unwritable(self, exc: BaseException) -> WarehouseError:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
        return WarehouseError(
            f"cannot write the DuckDB warehouse {self.path}: {reason}. The pipeline writes the file, its .wal and "
            f".lock beside it, so make the folder {self.path.parent} writable for this user, or set "
            "KPI_WAREHOUSE_URL to a file in a writable folder"
        )

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Holds the connection, and so the writer lock, until the block ends."""
        with self._connection():
            yield

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._connection() as con:
            if getattr(self._local, "in_tx", False):
                yield _DuckTransaction(con, self._mark_written)
                return
            con.execute("BEGIN TRANSACTION")
            self._local.in_tx = True
            try:
                yield _DuckTransaction(con, self._mark_written)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            else:
                con.execute("COMMIT")
            finally:
                self._local.in_tx = False


def _writable(folder: Path) -> bool:
    """Whether this process can create files in `folder` (tried, not guessed from mode bits)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _flock(fd: int, timeout_s: float, path: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise WarehouseError(
                    f"DuckDB file {path} stayed locked by another process for {timeout_s:.0f}s "
                    f"(pid of a writer: see `fuser {path}.lock`); wait for it or stop it"
                ) from None
            time.sleep(0.05)


__all__ = ["DuckDBWarehouse", "typed_select"]
