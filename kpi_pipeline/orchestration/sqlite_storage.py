"""The embedded SQLite instance storage, with its event log connections kept open while a command runs.

Dagster's SQLite event log opens a new engine and connection for every event it writes (and checkpoints
the write-ahead log when it closes it): about 8 ms an event here, and a backfill of the demo quarter writes
900 of them, two thirds of what the orchestration costs. Kept open, the same inserts into the same files
take a fraction of that. Used only by `kpi-pipeline`'s own in-process runs on the default SQLite instance;
the webserver and the daemon keep Dagster's stock storage, and read the same files.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster import DagsterInstance
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SQLITE_BUSY_TIMEOUT_SECONDS, SqliteEventLogStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy import Connection, Engine, create_engine

OPEN_SHARDS = 4  # the index shard and the runs in flight; older run shards are closed


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


def with_pooled_event_log(instance: DagsterInstance) -> ConfigurableClassData | None:
    """The storage data for `instance`'s ref with the pooled event log, or None unless it is the stock SQLite."""
    data = instance.get_ref().storage_data
    if data is None or (data.module_name, data.class_name) != (
        "dagster._core.storage.sqlite_storage",
        "DagsterSqliteStorage",
    ):
        return None
    return ConfigurableClassData(__name__, PooledSqliteStorage.__name__, data.config_yaml)
