"""The embedded SQLite instance storage, with its event log connections kept open while a command runs.

Dagster's SQLite event log opens a new engine and connection for every event it writes, and checkpoints
the write-ahead log when it closes it. A backfill of the demo quarter writes 910 events; kept open, the
same inserts into the same files saved 8 to 13 s of a 33 to 35 s backfill here (docs/benchmarks.md).
Used only by `kpi-pipeline`'s own in-process runs (demo, backfill) on the default SQLite instance; the
webserver and the daemon keep Dagster's stock storage and read the same files. The private APIs this needs, and
why, are listed in docs/deployment.md ("Private Dagster APIs").
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SQLITE_BUSY_TIMEOUT_SECONDS, SqliteEventLogStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy import Connection, Engine, create_engine, event

OPEN_SHARDS = 4  # the index shard and the runs in flight; older run shards are closed


def _no_fsync_per_commit(dbapi_connection: Any, _record: Any) -> None:
    """The shards are in WAL mode, where NORMAL syncs at checkpoints instead of at every commit: a power cut
    can lose the last events, but never corrupts the file, and a crashed process loses nothing."""
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` whose shards (the index and one file per run) keep an engine open."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engines.pop(shard, None)
            if engine is None:
                engine = create_engine(
                    self.conn_string_for_shard(shard), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
                )
                event.listen(engine, "connect", _no_fsync_per_commit)
                if shard not in self._initialized_dbs:
                    self._initdb(engine)
                    self._initialized_dbs.add(shard)
            self._engines[shard] = engine
            while len(self._engines) > OPEN_SHARDS:
                self._engines.popitem(last=False)[1].dispose()
            with engine.connect() as conn, conn.begin():
                yield conn

    def _close_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._close_engines()
        super().wipe()

    def dispose(self) -> None:
        self._close_engines()
        super().dispose()


class PooledSqliteStorage(DagsterSqliteStorage):
    """`DagsterSqliteStorage` (runs, event log, schedules under one base dir) with the pooled event log."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data)
        stock = self._event_log_storage
        self._event_log_storage = PooledSqliteEventLogStorage(stock._base_dir)
        stock.dispose()

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> PooledSqliteStorage:
        return cls.from_local(inst_data=inst_data, base_dir=config_value["base_dir"])


def with_pooled_event_log(ref: InstanceRef) -> InstanceRef:
    """`ref` with the pooled event log when its storage is Dagster's stock SQLite storage, else `ref` as it is."""
    data = ref.storage_data
    if data is None or (data.module_name, data.class_name) != (
        "dagster._core.storage.sqlite_storage",
        "DagsterSqliteStorage",
    ):
        return ref
    return ref._replace(storage_data=ConfigurableClassData(__name__, PooledSqliteStorage.__name__, data.config_yaml))
