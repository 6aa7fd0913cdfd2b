"""The pooled SQLite event log writes the same files Dagster's stock storage reads, and cleans up after itself."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from dagster import AssetKey, AssetMaterialization, DagsterInstance, asset, materialize

from kpi_pipeline.orchestration.sqlite_storage import PooledSqliteEventLogStorage, with_pooled_event_log
from kpi_pipeline.partitions import daily_partitions


@asset(partitions_def=daily_partitions)
def counted_day() -> int:
    return 1


def pooled(home: Path) -> DagsterInstance:
    with DagsterInstance.from_config(str(home)) as stock:
        return DagsterInstance.from_ref(with_pooled_event_log(stock.get_ref()))


def test_runs_written_through_the_pooled_log_are_read_by_the_stock_storage(tmp_path: Path) -> None:
    with pooled(tmp_path) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        for day in ("2026-07-01", "2026-07-02", "2026-07-03"):
            assert materialize([counted_day], instance=instance, partition_key=day).success

    with DagsterInstance.from_config(str(tmp_path)) as stock:
        assert type(stock.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert stock.get_materialized_partitions(AssetKey("counted_day")) == {"2026-07-01", "2026-07-02", "2026-07-03"}
        runs = stock.get_runs()
        assert len(runs) == 3
        assert all(
            any(e.is_dagster_event and e.dagster_event.is_job_success for e in stock.all_logs(r.run_id)) for r in runs
        )


def test_threads_writing_at_once_lose_no_event(tmp_path: Path) -> None:
    with pooled(tmp_path) as instance:

        def report(i: int) -> None:
            instance.report_runless_asset_event(
                AssetMaterialization("counted_day", partition=f"2026-07-{i % 28 + 1:02d}")
            )

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(report, range(200)))
        assert len(instance.get_materialized_partitions(AssetKey("counted_day"))) == 28

    with DagsterInstance.from_config(str(tmp_path)) as stock:
        assert stock.get_latest_materialization_event(AssetKey("counted_day")) is not None
        assert len(stock.get_materialized_partitions(AssetKey("counted_day"))) == 28


def test_wipe_closes_the_open_files_and_empties_the_log(tmp_path: Path) -> None:
    with pooled(tmp_path) as instance:
        assert materialize([counted_day], instance=instance, partition_key="2026-07-01").success
        instance.wipe()
        assert instance.get_materialized_partitions(AssetKey("counted_day")) == set()
        assert materialize([counted_day], instance=instance, partition_key="2026-07-02").success
        assert instance.get_materialized_partitions(AssetKey("counted_day")) == {"2026-07-02"}


@pytest.mark.postgres
def test_other_storages_are_left_as_they_are(tmp_path: Path, postgres_url: str) -> None:
    storage_url = postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    (tmp_path / "dagster.yaml").write_text(f"storage:\n  postgres:\n    postgres_url: {storage_url}\n")
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        assert with_pooled_event_log(instance.get_ref()) == instance.get_ref()


def test_commits_are_synced_at_checkpoints_not_one_by_one(tmp_path: Path) -> None:
    with pooled(tmp_path) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, PooledSqliteEventLogStorage)
        with storage.index_connection() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
