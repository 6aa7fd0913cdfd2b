"""Orchestration overhead: the demo quarter through Dagster vs the same work called in-process without it.

    .venv/bin/python bench/bench_orchestration.py                 # 3 runs per side, the median counts
    .venv/bin/python bench/bench_orchestration.py --repeat 3 --quarter 2026-Q3

Sides, each a fresh interpreter timed from spawn to exit (wall clock), each on a fresh DuckDB warehouse and a
fresh DAGSTER_HOME (SQLite instance, no dagster.yaml: the embedded default):
  (a) plain:    the resources read every day, raw tables are written a day per transaction, read back, extracted
                with the offline backend, written to the extract tables, gated and published, the catalog tables
                written and the dashboard rendered. No Dagster run.
  (b) backfill: `kpi-pipeline backfill QUARTER`, the user path: a real asset backfill on the instance; with no
                daemon running (as here) the command does the daemon's backfill loop itself and launches the
                backfill's runs (the days; the catalog tables, OKR views and dashboard) in its own process.
  (c) run:      `run_in_process` of the daily assets over the quarter, then of the catalog tables, OKR views and
                dashboard (what `kpi-pipeline demo` does): two Dagster runs, no backfill.
The published kpi.fct_metric_daily must be the same on every side (same rows, same values). For (b) and (c) the
Dagster event log splits the wall clock into phases, so the overhead can be traced to where it goes.
Target: (b) at most 1.5x (a).

What-if flags (measured suggestions, not the default configuration):
  --planned-subset   DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=1: one planned event per asset for a ranged
                     run instead of one per asset and day.
  --bytecode-cache   children read and write .pyc files under the scratch dir (warmed before timing), as a venv
                     installed with `uv sync --compile-bytecode` would, even when PYTHONDONTWRITEBYTECODE is set.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SIDES = {
    "plain": "(a) without Dagster, in-process",
    "backfill": "(b) kpi-pipeline backfill",
    "run": "(c) one in-process Dagster run",
}
# inherited settings that would change what a side does; each side gets the same explicit ones instead
FOREIGN_SETTINGS = ("KPI_", "DAGSTER_", "ANTHROPIC_", "SLACK_", "JIRA_")
PUBLISHED_SQL = "SELECT metric_id, CAST(day AS VARCHAR) AS day, value, status FROM kpi.fct_metric_daily"
CHILD_TIMEOUT_S = 3600

Phases = list[tuple[str, float | None]]  # (what, seconds); None for a note without a duration


def run_plain(dataset: Path, warehouse_url: str, quarter: str) -> dict[str, float]:
    """The daily pipeline's work called directly, as the assets call it, without a Dagster run."""
    stamps = {"started": time.time()}
    from datetime import UTC, datetime

    from kpi_pipeline.catalog import load_catalog
    from kpi_pipeline.dashboard import dashboard_path, write_page
    from kpi_pipeline.dashboard.data import load_dashboard_data
    from kpi_pipeline.dashboard.render import render_html
    from kpi_pipeline.extraction.offline import OfflineBackend
    from kpi_pipeline.extraction.pipeline import extract_days
    from kpi_pipeline.orchestration.days import parse_day_range
    from kpi_pipeline.quality.gate import run_gate
    from kpi_pipeline.resources.docs import DocsSource
    from kpi_pipeline.resources.jira import JiraSource
    from kpi_pipeline.resources.slack import SlackSource
    from kpi_pipeline.warehouse import open_warehouse
    from kpi_pipeline.warehouse.extract_io import read_raw_days, write_day
    from kpi_pipeline.warehouse.publish import ensure_kpi_schema, publish_catalog, publish_gate, read_metric_values
    from kpi_pipeline.warehouse.tables import RAW_DOCS, RAW_JIRA_EVENTS, RAW_JIRA_ISSUES, RAW_SLACK_MESSAGES

    stamps["imported"] = time.time()
    days = parse_day_range(quarter)
    catalog = load_catalog(dataset / "metrics.yaml")
    slack = SlackSource(source=str(dataset / "slack"))
    jira = JiraSource(source=str(dataset / "jira"))
    docs = DocsSource(source=str(dataset / "docs"))
    wh = open_warehouse(warehouse_url)
    wh.ensure_tables()
    now = datetime.now(UTC)
    with wh.session():
        for day in days:
            wh.replace_days(RAW_DOCS, [day], docs.docs_for_day(day).assign(ingested_at=now))
            issues, events = jira.issues_and_events_for_day(day)
            with wh.transaction() as tx:  # both Jira tables of a day together, as the raw_jira asset does
                wh.lock_partition(tx, RAW_JIRA_ISSUES, [day])
                tx.delete_days(RAW_JIRA_ISSUES, [day])
                tx.delete_days(RAW_JIRA_EVENTS, [day])
                tx.insert_df(RAW_JIRA_ISSUES, issues.assign(ingested_at=now))
                tx.insert_df(RAW_JIRA_EVENTS, events.assign(ingested_at=now))
            wh.replace_days(RAW_SLACK_MESSAGES, [day], slack.messages_for_day(day).assign(ingested_at=now))
        stamps["ingested"] = time.time()
        raw = read_raw_days(wh, days)
    extracted = extract_days(raw, catalog, OfflineBackend())
    stamps["extracted"] = time.time()
    with wh.session():
        for day in days:
            write_day(wh, day, extracted[day], "bench", now)
        stamps["extract tables written"] = time.time()
        ensure_kpi_schema(wh)
        gate = run_gate(read_metric_values(wh, days), catalog, days)
        stamps["gated"] = time.time()
        publish_gate(wh, gate, "bench", now)
        publish_catalog(wh, catalog)
    stamps["published"] = time.time()
    write_page(dashboard_path(), render_html(load_dashboard_data(wh, None)))  # as every publishing run does
    stamps["dashboard rendered"] = time.time()
    return stamps


def run_dagster_in_process(quarter: str) -> dict[str, float]:
    """The Dagster runs `kpi-pipeline demo` makes on DAGSTER_HOME: the daily assets over the quarter, then the
    catalog tables, OKR views and dashboard."""
    stamps = {"started": time.time()}
    from kpi_pipeline.catalog import quarter_bounds
    from kpi_pipeline.cli import run_in_process
    from kpi_pipeline.orchestration.schedules import DAILY_ASSETS, REPORT_ASSETS

    first, last = quarter_bounds(quarter)
    run_in_process(DAILY_ASSETS, first, last)
    stamps["days run"] = time.time()
    run_in_process(REPORT_ASSETS)
    stamps["ended"] = time.time()
    return stamps


@dataclass
class Measured:
    seconds: float
    cpu_seconds: float  # user + system time of the side's process and its children
    rows: int
    published: list[tuple[Any, ...]]
    phases: Phases = field(default_factory=list)


@dataclass(frozen=True)
class Setup:
    dataset: Path
    quarter: str
    extra_env: dict[str, str] = field(default_factory=dict)  # added to every child's environment
    drop_env: tuple[str, ...] = ()  # removed from it


def base_env(setup: Setup) -> dict[str, str]:
    """This process's environment without settings that would change a side's work, plus the what-ifs."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_SETTINGS) and k not in setup.drop_env}
    return kept | setup.extra_env


def warm_bytecode(setup: Setup) -> None:
    """Compile what every side's process imports (CLI, definitions, the backfill loop, GX) before timing."""
    modules = "kpi_pipeline.cli, kpi_pipeline.definitions, kpi_pipeline.orchestration.backfill, great_expectations"
    modules += ", dagster._daemon.backfill, kpi_pipeline.demo"
    subprocess.run([sys.executable, "-W", "ignore", "-c", f"import {modules}"], env=base_env(setup), check=True)


def side_env(scratch: Path, setup: Setup) -> dict[str, str]:
    """A clean environment naming this run's scratch instance and warehouse and the offline extractor."""
    env = base_env(setup)
    home = scratch / "dagster_home"
    home.mkdir()
    env |= {
        "DAGSTER_HOME": str(home),
        "KPI_DATASET": str(setup.dataset),
        "KPI_WAREHOUSE_URL": f"duckdb:///{scratch / 'warehouse.duckdb'}",
        "KPI_LLM_BACKEND": "offline",
        "KPI_LLM_RESPONSE_CACHE_DIR": str(scratch / "llm_cache"),
        "KPI_DASHBOARD_PATH": str(scratch / "dashboard.html"),
        "GX_ANALYTICS_ENABLED": "false",
    }
    return env


def command(side: str, dataset: Path, quarter: str) -> list[str]:
    if side == "backfill":
        cli = Path(sys.executable).with_name("kpi-pipeline")
        if not cli.exists():
            raise SystemExit(f"{cli} not found: install the project into this interpreter's environment first")
        return [str(cli), "backfill", quarter]
    return [sys.executable, __file__, "--child", side, "--dataset", str(dataset), "--quarter", quarter]


def measure(side: str, setup: Setup, scratch: Path) -> Measured:
    """Run one side in a fresh process on a fresh instance and warehouse; time it and read what it published."""
    env = side_env(scratch, setup)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    spawned = time.time()
    done = subprocess.run(
        command(side, setup.dataset, setup.quarter),
        env=env,
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )
    exited = time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        failures = "" if side == "plain" else dagster_failures(Path(env["DAGSTER_HOME"]))
        output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}\n{failures}"
        raise SystemExit(f"side {side} failed ({done.returncode}):\n{output}")
    from kpi_pipeline.warehouse import open_warehouse

    published = open_warehouse(env["KPI_WAREHOUSE_URL"]).query_df(PUBLISHED_SQL)
    rows = sorted(published.itertuples(index=False, name=None))
    measured = Measured(seconds=exited - spawned, cpu_seconds=cpu, rows=len(rows), published=rows)
    if side == "plain":
        stamps: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
        measured.phases = stamp_phases(spawned, stamps, exited)
    else:
        measured.phases = dagster_phases(Path(env["DAGSTER_HOME"]), spawned, exited)
    return measured


def dagster_failures(home: Path) -> str:
    """The failure messages in the instance's event log, so a failed side says why."""
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        return "\n".join(
            f"{run.run_id} {event.step_key or ''}: {event.message}"
            for run in instance.get_runs()
            for event in instance.all_logs(run.run_id)
            if event.dagster_event and event.dagster_event.is_failure
        )


def stamp_phases(spawned: float, stamps: dict[str, float], exited: float) -> Phases:
    """Seconds between consecutive checkpoints of the plain side, from spawn to exit."""
    points = [("process start", spawned), *stamps.items(), ("process exit", exited)]
    return [(f"{a} -> {b}", tb - ta) for (a, ta), (b, tb) in itertools.pairwise(points)]


def dagster_phases(home: Path, spawned: float, exited: float) -> Phases:
    """Where a Dagster side's wall clock went, from the instance's runs, backfills and event log timestamps."""
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        backfills = instance.get_backfills()
        records = sorted(
            (r for r in (instance.get_run_record_by_id(run.run_id) for run in instance.get_runs()) if r is not None),
            key=lambda r: r.create_timestamp,
        )
        phases: Phases = []
        clock = spawned
        if backfills:
            submitted = backfills[0].backfill_timestamp
            phases.append(("process start, imports, backfill submitted", submitted - clock))
            clock = submitted
        for record in records:
            events = instance.all_logs(record.dagster_run.run_id)
            clock = _run_phases(record.create_timestamp.timestamp(), events, clock, phases, bool(backfills))
        if backfills and backfills[0].backfill_end_timestamp:
            ended = backfills[0].backfill_end_timestamp
            phases.append(("run end -> backfill marked done (next backfill loop)", ended - clock))
            clock = ended
    phases.append(("-> process exit" + (" (last progress poll)" if backfills else ""), exited - clock))
    return phases


def _run_phases(created: float, events: Sequence[Any], clock: float, phases: Phases, backfill: bool) -> float:
    """Append one run's phases (creation, planned events, launch, steps and their event writes); the new clock."""

    def kind(e: Any) -> str:
        return e.dagster_event.event_type_value if e.dagster_event else "LOG"

    def first(type_name: str, step: str | None = None) -> float:
        return min(e.timestamp for e in events if kind(e) == type_name and (step is None or e.step_key == step))

    planned = [e for e in events if kind(e).endswith("_PLANNED")]
    counts = Counter(kind(e) for e in events)
    what = "code location loaded, backfill loop -> run created" if backfill else "imports, definitions -> run created"
    phases.append((what, created - clock))
    last_planned = max(e.timestamp for e in planned)
    phases.append((f"{len(planned)} *_PLANNED events written", last_planned - created))
    started = first("PIPELINE_START")
    phases.append(("launched" if backfill else "-> run start", started - last_planned))
    clock = started
    steps = sorted({e.step_key for e in events if kind(e) == "STEP_START"}, key=lambda s: first("STEP_START", s))
    for step in steps:
        begun, output = first("STEP_START", step), first("STEP_OUTPUT", step)
        succeeded = first("STEP_SUCCESS", step)
        materialized = sum(1 for e in events if e.step_key == step and kind(e) == "ASSET_MATERIALIZATION")
        phases.append((f"step {step}: between steps", begun - clock))
        phases.append((f"step {step}: compute", output - begun))
        phases.append((f"step {step}: outputs, {materialized} materialization events", succeeded - output))
        clock = succeeded
    ended = first("PIPELINE_SUCCESS")
    phases.append(("last step -> run success", ended - clock))
    phases.append(
        (f"(the run logged {sum(counts.values())} events, {counts['ASSET_MATERIALIZATION']} materializations)", None)
    )
    return ended


def child(side: str, dataset: Path, quarter: str) -> None:
    """Run one side here and print its checkpoints as the last line of stdout."""
    if side == "plain":
        stamps = run_plain(dataset, os.environ["KPI_WAREHOUSE_URL"], quarter)
    else:
        stamps = run_dagster_in_process(quarter)
    print(json.dumps(stamps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quarter", default="2026-Q3", help="the quarter to run (default: the demo's, 2026-Q3)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side, interleaved; the median counts")
    parser.add_argument("--sides", nargs="+", choices=list(SIDES), default=list(SIDES), help="sides to run")
    parser.add_argument("--planned-subset", action="store_true", help="what-if: one planned event per asset and run")
    parser.add_argument("--bytecode-cache", action="store_true", help="what-if: children cache compiled bytecode")
    parser.add_argument("--child", choices=["plain", "run"], help=argparse.SUPPRESS)
    parser.add_argument("--dataset", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.dataset, args.quarter)
        return

    from kpi_pipeline.demo import generate_dataset

    with tempfile.TemporaryDirectory(prefix="kpi-bench-orch-") as tmp:
        dataset = Path(tmp) / "demo"
        generate_dataset(dataset, seed=7)
        extra_env = {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1"} if args.planned_subset else {}
        drop_env: tuple[str, ...] = ()
        if args.bytecode_cache:
            extra_env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
            drop_env = ("PYTHONDONTWRITEBYTECODE",)
        setup = Setup(dataset, args.quarter, extra_env, drop_env)
        if args.bytecode_cache:
            warm_bytecode(setup)
        flags = [
            f for f, on in (("--planned-subset", args.planned_subset), ("--bytecode-cache", args.bytecode_cache)) if on
        ]
        print(f"demo company generated (seed 7) in {dataset}; quarter {args.quarter}; {os.cpu_count()} CPUs")
        print(f"what-if flags: {' '.join(flags) or 'none'}; this shell's PYTHONDONTWRITEBYTECODE="
              f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '(unset)')}")  # fmt: skip
        results: dict[str, list[Measured]] = {side: [] for side in args.sides}
        for rep in range(args.repeat):
            for side in args.sides:
                scratch = Path(tmp) / f"{side}-{rep}"
                scratch.mkdir()
                results[side].append(measure(side, setup, scratch))
                m = results[side][-1]
                print(f"  run {rep + 1} {SIDES[side]}: {m.seconds:.1f} s wall, {m.cpu_seconds:.1f} s CPU", flush=True)
    report(results)


def report(results: dict[str, list[Measured]]) -> None:
    medians = {side: statistics.median(m.seconds for m in runs) for side, runs in results.items()}
    cpu = {side: statistics.median(m.cpu_seconds for m in runs) for side, runs in results.items()}
    base = medians.get("plain")
    print(f"\n{'side':<38} {'runs, wall (s)':<24} {'median (s)':>10} {'vs (a)':>7} {'CPU (s)':>8} {'vs (a)':>7}")
    for side, runs in results.items():
        each = ", ".join(f"{m.seconds:.1f}" for m in runs)
        ratio = f"{medians[side] / base:.2f}x" if base else "-"
        cpu_ratio = f"{cpu[side] / cpu['plain']:.2f}x" if base else "-"
        print(f"{SIDES[side]:<38} {each:<24} {medians[side]:>10.1f} {ratio:>7} {cpu[side]:>8.1f} {cpu_ratio:>7}")
    if base:
        # each repetition ran the sides back to back, so a slow spell of the machine falls on both of a pair
        for side in results:
            if side != "plain":
                paired = [m.seconds / p.seconds for m, p in zip(results[side], results["plain"], strict=True)]
                each = ", ".join(f"{r:.2f}x" for r in paired)
                print(f"{SIDES[side]} / (a), repetition by repetition: {each}; median {statistics.median(paired):.2f}x")
    every = [m for runs in results.values() for m in runs]
    counts = {m.rows for m in every}
    assert len(counts) == 1, f"kpi.fct_metric_daily row counts differ between sides: {sorted(counts)}"
    same = all(m.published == every[0].published for m in every)
    assert same, "kpi.fct_metric_daily holds different (metric_id, day, value, status) rows on different sides"
    print(f"published rows equal on every side and run: {counts.pop()} rows, same values")
    if base and "backfill" in medians:
        verdict = "meets" if medians["backfill"] / base <= 1.5 else "misses"
        print(f"orchestration overhead (b)/(a): {medians['backfill'] / base:.2f}x, {verdict} the 1.5x target")
    for side, runs in results.items():
        typical = min(runs, key=lambda m: abs(m.seconds - medians[side]))
        print(f"\nwhere the time went, {SIDES[side]} (the run nearest the median, {typical.seconds:.1f} s):")
        for name, seconds in typical.phases:
            print(f"           {name}" if seconds is None else f"  {seconds:7.2f}  {name}")


if __name__ == "__main__":
    main()
