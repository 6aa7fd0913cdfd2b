"""`kpi-pipeline backfill` runs a real Dagster backfill on an instance stored in PostgreSQL, resumably: in its
own process when no daemon runs, through the daemon when one does."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
)

from kpi_pipeline.catalog import catalog_version, load_catalog
from kpi_pipeline.demo import generate_dataset
from kpi_pipeline.extraction.schema import PROMPT_VERSION
from kpi_pipeline.orchestration.backfill import _cancel, progress, submit
from kpi_pipeline.orchestration.schedules import DAILY_ASSETS, REPORT_ASSETS
from kpi_pipeline.orchestration.sqlite_storage import with_pooled_event_log
from kpi_pipeline.warehouse import open_warehouse
from kpi_pipeline.warehouse.engine import redact_url

REPO = Path(__file__).resolve().parents[2]


def backfill(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "kpi_pipeline.cli", "backfill", *args]
    return subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)


def instance_env(tmp_path: Path, dagster_yaml: str | None = None) -> dict[str, str]:
    """The demo company, a DuckDB warehouse and a Dagster instance: the embedded SQLite one unless
    `dagster_yaml` configures another."""
    dataset = tmp_path / "demo"
    generate_dataset(dataset, seed=7)
    home = tmp_path / "dagster_home"
    home.mkdir()
    if dagster_yaml is not None:
        (home / "dagster.yaml").write_text(dagster_yaml)
    warehouse_url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    env = dict(os.environ, DAGSTER_HOME=str(home), KPI_DATASET=str(dataset), KPI_WAREHOUSE_URL=warehouse_url)
    env["KPI_LLM_RESPONSE_CACHE_DIR"] = str(tmp_path / "llm_cache")
    env["KPI_DASHBOARD_PATH"] = str(tmp_path / "dashboard" / "index.html")  # the backfill renders it too
    return env


def pg_instance_env(tmp_path: Path, postgres_url: str, more_yaml: str = "") -> dict[str, str]:
    """`instance_env` with the instance stored in `postgres_url`."""
    storage_url = postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    return instance_env(tmp_path, f"storage:\n  postgres:\n    postgres_url: {storage_url}\n{more_yaml}")


@pytest.mark.slow
def test_a_five_day_backfill_publishes_every_day(tmp_path: Path, postgres_url: str) -> None:
    env = pg_instance_env(tmp_path, postgres_url)
    home, warehouse_url = env["DAGSTER_HOME"], env["KPI_WAREHOUSE_URL"]

    first = backfill(env, "2026-07-01", "2026-07-05")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    assert "no Dagster daemon is running: executing the backfill in this process" in first.stdout
    assert "5/5 days published" in first.stdout
    assert "restated 0 published value(s)" in first.stdout  # a first publish restates nothing

    wh = open_warehouse(warehouse_url)
    extracted = wh.query_df("SELECT day, count(*) AS n FROM extract.metric_values GROUP BY day ORDER BY day")
    assert [str(d)[:10] for d in extracted["day"]] == [f"2026-07-0{i}" for i in range(1, 6)]
    assert set(extracted["n"]) == {12}  # every catalog metric, every day
    published_days = set(wh.query_df("SELECT DISTINCT day FROM kpi.fct_metric_daily")["day"].astype(str).str[:10])
    assert published_days and published_days <= {f"2026-07-0{i}" for i in range(1, 6)}

    with DagsterInstance.from_config(home) as instance:
        runs = instance.get_runs(RunsFilter(tags={"kpi/command": "backfill"}))
        assert runs and all(r.status == DagsterRunStatus.SUCCESS for r in runs)
        # one run for the five days; the catalog tables, OKR views and dashboard in runs of their own
        (ranged,) = [r for r in runs if r.tags.get("dagster/asset_partition_range_start")]
        assert (
            ranged.tags["dagster/asset_partition_range_start"],
            ranged.tags["dagster/asset_partition_range_end"],
        ) == (
            "2026-07-01",
            "2026-07-05",
        )
        assert {k.to_user_string() for k in ranged.asset_selection or ()} == set(DAILY_ASSETS)
        rest = {k.to_user_string() for r in runs if r is not ranged for k in r.asset_selection or ()}
        assert rest == set(REPORT_ASSETS)
        backfills = instance.get_backfills()
        assert len(backfills) == 1 and backfills[0].status.value in {"COMPLETED", "COMPLETED_SUCCESS"}

    # extract.day_status now says every day is complete and published: a rerun resumes with nothing to do
    again = backfill(env, "2026-07-01", "2026-07-05")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    assert "skipping 5 day(s)" in again.stdout and "nothing to do" in again.stdout


@pytest.mark.slow
def test_a_backfill_into_a_new_warehouse_publishes_the_days_another_warehouse_has(
    tmp_path: Path, warehouse_url: str
) -> None:
    env = instance_env(tmp_path)
    days = ["2026-07-01", "2026-07-02", "2026-07-03"]
    version = catalog_version(load_catalog(Path(env["KPI_DATASET"]) / "metrics.yaml"))
    # the instance has seen these days extracted and published (into the warehouse `make demo` wrote) ...
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        for day in days:
            metadata = {"catalog_version": version, "prompt_version": PROMPT_VERSION}
            instance.report_runless_asset_event(AssetMaterialization("metric_values", partition=day, metadata=metadata))
            instance.report_runless_asset_event(AssetMaterialization("fct_metric_daily", partition=day))
    # ... and now KPI_WAREHOUSE_URL names a warehouse nothing was ever written to
    env["KPI_WAREHOUSE_URL"] = warehouse_url

    done = backfill(env, days[0], days[-1])
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert f"warehouse: {redact_url(warehouse_url)}" in done.stdout
    assert "skipping" not in done.stdout and "3/3 days published" in done.stdout
    wh = open_warehouse(warehouse_url)
    extracted = wh.query_df("SELECT DISTINCT day FROM extract.metric_values ORDER BY day")
    assert [str(d)[:10] for d in extracted["day"]] == days
    assert wh.scalar("SELECT count(*) FROM kpi.fct_metric_daily") > 0
    # the same backfill left the catalog tables, the OKR views and the dashboard consistent with the facts
    catalog = load_catalog(Path(env["KPI_DATASET"]) / "metrics.yaml")
    assert set(wh.query_df("SELECT metric_id FROM kpi.dim_metric")["metric_id"]) == set(catalog.metric_ids)
    orphans = "SELECT count(*) FROM kpi.fct_metric_daily LEFT JOIN kpi.dim_metric d USING (metric_id) "
    orphans += "WHERE d.metric_id IS NULL"
    assert wh.scalar(orphans) == 0
    assert wh.scalar("SELECT count(*) FROM kpi.okr_key_results") > 0
    assert wh.scalar("SELECT count(*) FROM kpi.okr_progress") > 0
    assert "2026-07-03" in (tmp_path / "dashboard" / "index.html").read_text()


@pytest.mark.slow
def test_a_day_the_gate_holds_is_named_with_its_reason_while_the_other_days_of_the_range_publish(
    tmp_path: Path, warehouse_url: str
) -> None:
    """The demo's 2026-07-02 holds a planted prompt injection: 1 of its 12 rows quarantined, over a 5% ceiling."""
    env = instance_env(tmp_path) | {"KPI_WAREHOUSE_URL": warehouse_url, "KPI_MAX_QUARANTINE_RATE": "0.05"}
    done = backfill(env, "2026-07-01", "2026-07-03")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert (
        "  2026-07-02 held: quarantine rate of 2026-07-02 is 8% (1 of 12 rows), above the ceiling 5% "
        "(KPI_MAX_QUARANTINE_RATE)"
    ) in done.stderr.splitlines()
    assert "1 day(s) not fully published: the same command retries them" in done.stderr
    wh = open_warehouse(warehouse_url)
    published = set(wh.query_df("SELECT DISTINCT day FROM kpi.fct_metric_daily")["day"].astype(str).str[:10])
    assert published == {"2026-07-01", "2026-07-03"}  # the good days of the range published
    quarantined = set(wh.query_df("SELECT DISTINCT day FROM kpi.metric_quarantine")["day"].astype(str).str[:10])
    assert quarantined == {"2026-07-02"}  # the held day's rows wait there for review
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        (ranged,) = instance.get_runs(RunsFilter(tags={"dagster/asset_partition_range_start": "2026-07-01"}))
        checks = [
            e.dagster_event.event_specific_data
            for e in instance.all_logs(ranged.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
            if e.dagster_event is not None
        ]
    per_day = {c.check_name: str(c.metadata["per_day"].value) for c in checks if "per_day" in c.metadata}
    # the UI shows the held day and why in the range's check results, for the gate and for what was published
    assert set(per_day) == {"quality_gate", "days_published"}
    assert all("| 2026-07-02 | held |" in table and "2026-07-01" not in table for table in per_day.values())

    again = backfill(env, "2026-07-01", "2026-07-03")  # resume retries only the held day
    assert "skipping 2 day(s)" in again.stdout and again.returncode == 1


@pytest.mark.slow
def test_a_docs_only_dataset_with_an_empty_jira_folder_backfills_without_fake_sources(
    tmp_path: Path, warehouse_url: str
) -> None:
    env = instance_env(tmp_path) | {"KPI_WAREHOUSE_URL": warehouse_url}
    dataset = Path(env["KPI_DATASET"])
    shutil.rmtree(dataset / "slack")  # no Slack at all
    for page in (dataset / "jira").iterdir():  # a Jira folder with nothing in it yet
        page.unlink()
    done = backfill(env, "2026-07-01", "2026-07-03")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "3/3 days published" in done.stdout
    skipped = f"slack: no source configured ({dataset} has no slack/ and KPI_SLACK_SOURCE is unset); skipped"
    assert skipped in done.stdout + done.stderr
    wh = open_warehouse(warehouse_url)
    assert wh.scalar("SELECT count(*) FROM raw.slack_messages") == 0
    assert wh.scalar("SELECT count(*) FROM raw.jira_issues") == 0  # an empty folder: empty days
    assert wh.scalar("SELECT count(*) FROM raw.docs") > 0
    assert wh.scalar("SELECT count(*) FROM kpi.fct_metric_daily") > 0  # read from the docs alone


def test_progress_counts_600_published_days_in_one_poll(tmp_path: Path, duckdb_url: str) -> None:
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(600)]
    wh = open_warehouse(duckdb_url)
    wh.ensure_tables()
    with (
        DagsterInstance.from_config(str(tmp_path)) as stock,
        DagsterInstance.from_ref(with_pooled_event_log(stock.get_ref())) as instance,
    ):
        for day in days:
            for key in ("metric_values", "fct_metric_daily"):
                instance.report_runless_asset_event(AssetMaterialization(key, partition=day.isoformat()))
        state = progress(instance, wh, "no-such-backfill", days, after_record=0)
    assert (state.days_published, state.days_total, state.runs) == (600, 600, {})


@pytest.fixture
def daemon_env(tmp_path: Path, postgres_url: str) -> Iterator[dict[str, str]]:
    """A Dagster daemon (2 s backfill loop, 1 s run queue) serving a PostgreSQL-stored instance."""
    queue = "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: QueuedRunCoordinator\n"
    queue += "  config:\n    dequeue_interval_seconds: 1\n"
    env = pg_instance_env(tmp_path, postgres_url, queue)
    log = open(tmp_path / "daemon.log", "w")  # noqa: SIM115 - closed below, after the daemon stops
    cmd = [sys.executable, "-m", "kpi_pipeline.testing.fast_daemon", "run", "-w", str(REPO / "workspace.yaml")]
    daemon = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            deadline = time.time() + 120
            while "BACKFILL" not in instance.get_daemon_heartbeats():
                assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
                assert time.time() < deadline, "the daemon sent no backfill heartbeat within 120 s"
                time.sleep(0.5)
        yield env
    finally:
        daemon.terminate()
        daemon.wait(60)
        log.close()


@pytest.mark.slow
def test_with_a_daemon_running_the_daemon_executes_the_backfill(daemon_env: dict[str, str]) -> None:
    done = backfill(daemon_env, "2026-07-01", "2026-07-02")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "the Dagster daemon executes it" in done.stdout
    assert "2/2 days published" in done.stdout
    with DagsterInstance.from_config(daemon_env["DAGSTER_HOME"]) as instance:
        runs = instance.get_runs(RunsFilter(tags={"kpi/command": "backfill"}))
        assert len(runs) == 3 and all(r.status == DagsterRunStatus.SUCCESS for r in runs)  # the days, catalog, report
        # launched by the daemon's run launcher in a process of its own, not by the command
        assert not [r for r in runs if r.run_id in done.stderr]
        assert instance.get_backfills()[0].status.value in {"COMPLETED", "COMPLETED_SUCCESS"}


@pytest.mark.slow
def test_ctrl_c_ends_the_backfill_failed_and_a_rerun_completes_it_without_duplicates(tmp_path: Path) -> None:
    env = instance_env(tmp_path)  # the embedded default: SQLite, no dagster.yaml
    home, warehouse_url = env["DAGSTER_HOME"], env["KPI_WAREHOUSE_URL"]
    cmd = [sys.executable, "-m", "kpi_pipeline.cli", "backfill", "2026-07-01", "2026-07-20"]
    running = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with DagsterInstance.from_config(home) as instance:
        deadline = time.time() + 300
        while not instance.get_materialized_partitions(AssetKey("raw_docs")):
            assert running.poll() is None and time.time() < deadline, running.communicate()
            time.sleep(0.2)
    running.send_signal(signal.SIGINT)
    out, err = running.communicate(timeout=300)
    assert running.returncode != 0, out

    with DagsterInstance.from_config(home) as instance:
        runs = instance.get_runs()
        (days_run,) = [r for r in runs if "dagster/asset_partition_range_start" in r.tags]
        assert days_run.status in {DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}, err[-3000:]
        assert all(r.is_finished for r in runs)  # the catalog tables' run, when it started, ended too
        (interrupted,) = instance.get_backfills()
        assert interrupted.status.value in {"CANCELED", "COMPLETED_FAILED", "FAILED"}

    again = backfill(env, "2026-07-01", "2026-07-20")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    assert "20/20 days published" in again.stdout
    wh = open_warehouse(warehouse_url)
    per_day = wh.query_df("SELECT day, count(*) AS n FROM extract.metric_values GROUP BY day")
    assert len(per_day) == 20 and set(per_day["n"]) == {12}
    dupes = "SELECT count(*) FROM (SELECT metric_id, day FROM kpi.fct_metric_daily GROUP BY 1, 2 HAVING count(*) > 1)"
    assert wh.scalar(dupes) == 0


@pytest.mark.slow
def test_a_killed_backfill_is_marked_failed_by_the_next_one_which_completes_the_days(tmp_path: Path) -> None:
    env = instance_env(tmp_path)
    home = env["DAGSTER_HOME"]
    cmd = [sys.executable, "-m", "kpi_pipeline.cli", "backfill", "2026-07-01", "2026-07-03"]
    running = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with DagsterInstance.from_config(home) as instance:
        deadline = time.time() + 300
        while not instance.get_materialized_partitions(AssetKey("raw_docs")):
            assert running.poll() is None and time.time() < deadline
            time.sleep(0.2)
    running.kill()
    running.wait(60)
    with DagsterInstance.from_config(home) as instance:
        (killed_run,) = [r for r in instance.get_runs() if r.status == DagsterRunStatus.STARTED]
        (killed,) = instance.get_backfills()
        assert killed.status.value == "REQUESTED"  # nothing else will ever end them

    again = backfill(env, "2026-07-01", "2026-07-03")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    assert f"run {killed_run.run_id} was left started: marked failed" in again.stdout
    assert f"backfill {killed.backfill_id} was left requested: marked failed" in again.stdout
    assert "3/3 days published" in again.stdout
    with DagsterInstance.from_config(home) as instance:
        assert instance.get_run_by_id(killed_run.run_id).status == DagsterRunStatus.FAILURE  # type: ignore[union-attr]
        statuses = {b.backfill_id: b.status.value for b in instance.get_backfills()}
        assert statuses.pop(killed.backfill_id) == "FAILED"
        assert set(statuses.values()) <= {"COMPLETED", "COMPLETED_SUCCESS"} and len(statuses) == 1


@pytest.mark.slow
def test_a_failed_step_is_reported_by_its_cause_in_one_line(tmp_path: Path) -> None:
    env = instance_env(tmp_path) | {"KPI_DOCS_SOURCE": str(tmp_path / "no-such-folder")}
    failed = backfill(env, "2026-07-01", "2026-07-01")
    assert failed.returncode == 1
    cause = f"failed in raw_docs: SourceError: docs source {tmp_path / 'no-such-folder'} is not a folder"
    (line,) = [line for line in failed.stderr.splitlines() if line.startswith("  run ")]
    assert cause in line and line.endswith("set KPI_DOCS_SOURCE to a folder or a git repository")
    assert "Dagster UI" in failed.stderr.splitlines()[-1]


def test_an_interrupted_backfill_is_marked_canceled_not_left_running(tmp_path: Path) -> None:
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        backfill_id = submit(instance, [date(2026, 7, 1), date(2026, 7, 2)], "interrupted")
        _cancel(instance, backfill_id, "interrupted at the command line")
        stored = instance.get_backfill(backfill_id)
        assert stored is not None and stored.status.value == "CANCELED" and stored.backfill_end_timestamp
