"""Every private Dagster API kpi-pipeline uses is still there, in the shape it is used in.

docs/deployment.md ("Private Dagster APIs") says, per name, why no public API serves. A Dagster upgrade that
moves or changes one fails here with the name and what depends on it, before a backfill fails at a user's.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from typing import Any

import dagster
import pytest
from dagster import DagsterInstance

DOC = "docs/deployment.md, 'Private Dagster APIs'"


def private(path: str, used_by: str) -> Any:
    """`module:attribute` imported, or a failure naming it, the Dagster version and what uses it."""
    module_name, _, name = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"Dagster {dagster.__version__} has no {path} ({exc}); {used_by} needs it: see {DOC}")


def require(ok: bool, what: str, used_by: str) -> None:
    if not ok:
        pytest.fail(f"Dagster {dagster.__version__} changed {what}; {used_by} relies on it: see {DOC}")


def params(fn: Any) -> list[str]:
    return [p for p in inspect.signature(fn).parameters if p != "self"]


def test_creating_an_asset_backfill() -> None:
    used_by = "orchestration/backfill.py submit()"
    backfill = private("dagster._core.execution.backfill:PartitionBackfill", used_by)
    wanted = ["backfill_id", "asset_graph", "partition_names", "asset_selection", "backfill_timestamp", "tags"]
    wanted += ["dynamic_partitions_store", "all_partitions", "title", "description", "run_config"]
    require(params(backfill.from_asset_partitions) == wanted, "PartitionBackfill.from_asset_partitions", used_by)
    for method in ("with_status", "with_end_timestamp"):
        require(callable(getattr(backfill, method, None)), f"PartitionBackfill.{method}", used_by)
    status = private("dagster._core.execution.backfill:BulkActionStatus", used_by + " and zombies.py")
    for name in ("REQUESTED", "CANCELING", "CANCELED", "COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED"):
        require(hasattr(status, name), f"BulkActionStatus.{name}", used_by)


def test_the_backfill_tag_on_its_runs() -> None:
    from kpi_pipeline.orchestration.run_errors import BACKFILL_TAG

    tag = private("dagster._core.storage.tags:BACKFILL_ID_TAG", "run_errors.py and backfill.py (run lookup)")
    require(tag == BACKFILL_TAG, f"the backfill run tag (now {tag!r})", "run_errors.py BACKFILL_TAG")


def test_executing_a_backfill_without_a_daemon() -> None:
    used_by = "orchestration/backfill.py execute_here()"
    execute = private("dagster._daemon.backfill:execute_backfill_jobs", used_by)
    require(
        params(execute)[:3] == ["workspace_process_context", "logger", "backfill_jobs"],
        "execute_backfill_jobs",
        used_by,
    )
    context = private("dagster._core.workspace.context:WorkspaceProcessContext", used_by)
    require(params(context)[:2] == ["instance", "workspace_load_target"], "WorkspaceProcessContext", used_by)
    target = private("dagster._core.workspace.load_target:InProcessWorkspaceLoadTarget", used_by)
    require(params(target) == ["origin"], "InProcessWorkspaceLoadTarget", used_by)
    origin = private("dagster._core.remote_origin:InProcessCodeLocationOrigin", used_by)
    require({"loadable_target_origin", "location_name"} <= set(params(origin)), "InProcessCodeLocationOrigin", used_by)
    loadable = private("dagster._core.types.loadable_target_origin:LoadableTargetOrigin", used_by)
    fields = {"executable_path", "module_name", "working_directory"}
    require(fields <= set(getattr(loadable, "_fields", ())), "LoadableTargetOrigin's fields", used_by)
    # the run coordinator and launcher the executing instance is configured with, by class path
    for path in (
        "dagster._core.run_coordinator:DefaultRunCoordinator",
        "dagster._core.launcher.sync_in_memory_run_launcher:SyncInMemoryRunLauncher",
        "dagster._serdes:ConfigurableClassData",
    ):
        private(path, used_by + " (_executing_instance)")


def test_the_pooled_sqlite_event_log(tmp_path: Path) -> None:
    used_by = "orchestration/sqlite_storage.py"
    log = private("dagster._core.storage.event_log.sqlite.sqlite_event_log:SqliteEventLogStorage", used_by)
    private("dagster._core.storage.event_log.sqlite.sqlite_event_log:SQLITE_BUSY_TIMEOUT_SECONDS", used_by)
    require(params(log._connect) == ["shard"], "SqliteEventLogStorage._connect(shard)", used_by)
    require(params(log._initdb)[:1] == ["engine"], "SqliteEventLogStorage._initdb(engine)", used_by)
    require(
        callable(getattr(log, "conn_string_for_shard", None)), "SqliteEventLogStorage.conn_string_for_shard", used_by
    )
    storage = private("dagster._core.storage.sqlite_storage:DagsterSqliteStorage", used_by)
    require(params(storage.from_local) == ["base_dir", "inst_data"], "DagsterSqliteStorage.from_local", used_by)
    private("dagster._core.instance.ref:InstanceRef", used_by)
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        ref = instance.get_ref()
        require(
            ref.storage_data is not None
            and (ref.storage_data.module_name, ref.storage_data.class_name)
            == ("dagster._core.storage.sqlite_storage", "DagsterSqliteStorage"),
            "the embedded instance's storage class",
            used_by + " with_pooled_event_log()",
        )
        stock = instance.event_log_storage
        for attribute in ("_db_lock", "_initialized_dbs", "_base_dir"):
            require(hasattr(stock, attribute), f"SqliteEventLogStorage.{attribute}", used_by)
        composite = storage.from_local(str(tmp_path / "probe"))
        require(hasattr(composite, "_event_log_storage"), "DagsterSqliteStorage._event_log_storage", used_by)
        composite.dispose()


def test_the_test_daemon_with_a_short_backfill_loop() -> None:
    used_by = "kpi_pipeline/testing/fast_daemon.py"
    interval = private("dagster._daemon.controller:DEFAULT_DAEMON_INTERVAL_SECONDS", used_by)
    require(isinstance(interval, int), "DEFAULT_DAEMON_INTERVAL_SECONDS", used_by)
    require(callable(private("dagster._daemon.cli:main", used_by)), "dagster._daemon.cli.main", used_by)


def test_one_planned_event_per_asset_for_a_ranged_run() -> None:
    source = Path(inspect.getfile(private("dagster._core.storage.event_log.base:EventLogStorage", "cli.py")))
    require(
        "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS" in source.read_text(),
        "the DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS switch",
        "cli.py _lean_event_log()",
    )


# every private Dagster name kpi_pipeline/ imports or names by class path, each checked by a test above
GUARDED = {
    "dagster._core.execution.backfill:BulkActionStatus",
    "dagster._core.execution.backfill:PartitionBackfill",
    "dagster._core.instance.ref:InstanceRef",
    "dagster._core.launcher.sync_in_memory_run_launcher",
    "dagster._core.remote_origin:InProcessCodeLocationOrigin",
    "dagster._core.run_coordinator",
    "dagster._core.storage.event_log.sqlite.sqlite_event_log:SQLITE_BUSY_TIMEOUT_SECONDS",
    "dagster._core.storage.event_log.sqlite.sqlite_event_log:SqliteEventLogStorage",
    "dagster._core.storage.sqlite_storage",
    "dagster._core.storage.sqlite_storage:DagsterSqliteStorage",
    "dagster._core.types.loadable_target_origin:LoadableTargetOrigin",
    "dagster._core.workspace.context:WorkspaceProcessContext",
    "dagster._core.workspace.load_target:InProcessWorkspaceLoadTarget",
    "dagster._daemon.backfill:execute_backfill_jobs",
    "dagster._daemon.cli:main",
    "dagster._daemon.controller",
    "dagster._serdes:ConfigurableClassData",
}


def private_names_used(package: Path) -> dict[str, str]:
    """`module:name` (or `module` for a module import or a class path's module) of every `dagster._*` the
    package's code imports or names in a string, with the first file that does."""
    found: dict[str, str] = {}
    for path in sorted(package.rglob("*.py")):
        where = str(path.relative_to(package.parent))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dagster._"):
                names = [f"{node.module}:{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names if alias.name.startswith("dagster._")]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("dagster._"):
                names = [node.value]
            for name in names:
                found.setdefault(name, where)
    return found


def test_no_private_dagster_name_is_used_that_is_not_listed_documented_and_checked() -> None:
    """A new `dagster._*` import fails here until it is documented and checked; a dropped one, until unlisted."""
    repo = Path(__file__).resolve().parents[2]
    used = private_names_used(repo / "kpi_pipeline")
    unlisted = [f"{where} uses {name}" for name, where in sorted(used.items()) if name not in GUARDED]
    assert not unlisted, f"private Dagster APIs not in GUARDED here nor explained in {DOC}: {unlisted}"
    assert sorted(GUARDED - used.keys()) == [], "no longer used: drop them from GUARDED and the doc"
    doc = (repo / "docs" / "deployment.md").read_text(encoding="utf-8")
    section = doc.split("## Private Dagster APIs", 1)[1].split("\n## ", 1)[0]
    undocumented = sorted(name for name in GUARDED if name.rpartition(":")[2] not in section)
    assert not undocumented, f"not explained in {DOC}: {undocumented}"
