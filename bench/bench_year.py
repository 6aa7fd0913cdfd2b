"""A year of a large company through the user path: generation, then `kpi-pipeline backfill` over a quarter and
over the year, with the growth from one to the other.

    .venv/bin/python bench/bench_year.py                      # a year at demo --scale 100 with 50 KPIs
    .venv/bin/python bench/bench_year.py --quick              # --scale 10, 30 days, a 7-day "quarter": minutes

The dataset is the demo company (`python -m kpi_pipeline.demo --days 365 --kpis 50 --scale 100`: the 365 days
ending 2026-09-30, about 4.4M Slack messages). Each range is `kpi-pipeline backfill FIRST LAST` (ingest, offline
extraction, gate, publish, dashboard; one Dagster run for the range) on a fresh DuckDB warehouse and
DAGSTER_HOME, with KPI_START_DATE at the dataset's first day, run by a wrapper process of its own so that
`getrusage(RUSAGE_CHILDREN)` is this command alone: wall time, CPU time (user + sys of the command and its
children), peak RSS of the largest process, and the warehouse file's size. The "quarter" is the dataset's last
92 days (2026-Q3), so both ranges read the same export. A range that runs past `--timeout` is stopped; its
steps are still read from the instance's event log, so the report says which step the time went to.
One measurement each (this is a growth measurement, not a comparison): read the load average beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

LAST_DAY = date(2026, 9, 30)  # the demo's datasets end with 2026-Q3
FOREIGN_SETTINGS = ("KPI_", "DAGSTER_", "ANTHROPIC_", "SLACK_", "JIRA_")
GRACE_S = 30


def wrapped(cmd: list[str], timeout: float) -> None:
    """Run `cmd` in its own session, stop it after `timeout` seconds, and print as JSON what it cost: this
    wrapper's only children are `cmd` and its descendants, so RUSAGE_CHILDREN is theirs."""
    started = time.time()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    timed_out = False
    try:
        out, _ = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(child.pid, signal.SIGTERM)
        try:
            out, _ = child.communicate(timeout=GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            out, _ = child.communicate()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "seconds": time.time() - started,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "peak_mib": usage.ru_maxrss / 1024,  # KiB on Linux
                "rc": child.returncode,
                "timed_out": timed_out,
                "tail": out.strip().splitlines()[-3:],
            }
        )
    )


def run_wrapped(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float) -> dict[str, Any]:
    wrapper = [sys.executable, __file__, "--wrap", json.dumps(cmd), "--timeout", str(timeout)]
    load = os.getloadavg()[0]
    done = subprocess.run(wrapper, env=env, cwd=cwd, capture_output=True, text=True, check=True)
    got: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    got["load"] = (load, os.getloadavg()[0])
    return got


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_SETTINGS)} | {
        "GX_ANALYTICS_ENABLED": "false"
    }


def size_mib(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def step_seconds(home: Path) -> dict[str, tuple[float, str]]:
    """Each step's seconds from its STEP_START to its STEP_SUCCESS (or failure, or the last event it wrote when
    the run was stopped), from the instance's event log, with "done", or the step's last progress line."""
    from dagster import DagsterInstance

    steps: dict[str, tuple[float, str]] = {}
    begun: dict[str, float] = {}
    with DagsterInstance.from_config(str(home)) as instance:
        for run in instance.get_runs():
            logged = [e for e in instance.all_logs(run.run_id) if e.step_key]
            events = [e for e in logged if e.dagster_event]
            for key in dict.fromkeys(e.step_key for e in events if e.step_key):
                stamps: dict[str, float] = {}  # event type -> its first timestamp in this step
                for e in events:
                    if e.step_key == key and e.dagster_event:
                        stamps.setdefault(e.dagster_event.event_type_value, e.timestamp)
                if "STEP_START" not in stamps:
                    continue
                ended = stamps.get("STEP_SUCCESS") or stamps.get("STEP_FAILURE")
                progress = [e.user_message for e in logged if e.step_key == key and not e.dagster_event]
                status = "done" if "STEP_SUCCESS" in stamps else f"stopped after: {(progress or ['-'])[-1][:80]}"
                last = ended or max(e.timestamp for e in events if e.step_key == key)
                steps[key] = (last - stamps["STEP_START"], status)
                begun[key] = stamps["STEP_START"]
    return {key: steps[key] for key in sorted(steps, key=begun.__getitem__)}


def measure_range(dataset: Path, first: date, last: date, scratch: Path, timeout: float) -> dict[str, Any]:
    home = scratch / "dagster_home"
    home.mkdir(parents=True)
    warehouse = scratch / "warehouse.duckdb"
    env = clean_env() | {
        "DAGSTER_HOME": str(home),
        "KPI_DATASET": str(dataset),
        "KPI_START_DATE": first.isoformat(),
        "KPI_WAREHOUSE_URL": f"duckdb:///{warehouse}",
        "KPI_LLM_BACKEND": "offline",
        "KPI_LLM_RESPONSE_CACHE_DIR": str(scratch / "llm_cache"),
        "KPI_DASHBOARD_PATH": str(scratch / "dashboard.html"),
    }
    cli = Path(sys.executable).with_name("kpi-pipeline")
    got = run_wrapped([str(cli), "backfill", first.isoformat(), last.isoformat()], env, scratch, timeout)
    got["warehouse_mib"] = size_mib(warehouse) if warehouse.exists() else 0.0
    got["steps"] = step_seconds(home)
    return got


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--days", type=int, default=365, help="days of the dataset, ending 2026-09-30")
    parser.add_argument("--kpis", type=int, default=50)
    parser.add_argument("--quarter-days", type=int, default=92, help="the shorter range: the last N days")
    parser.add_argument("--quick", action="store_true", help="--scale 10 --days 30 --quarter-days 7 --kpis 50")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before a range run is stopped")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/year-bench/bench"), help="replaced, then removed")
    parser.add_argument("--keep", action="store_true", help="keep the workdir (dataset, warehouses, instances)")
    parser.add_argument("--dataset", type=Path, help="a dataset generated as above, instead of generating one")
    parser.add_argument("--wrap", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.wrap:
        wrapped(json.loads(args.wrap), args.timeout)
        return 0
    if args.quick:
        args.scale, args.days, args.quarter_days = 10, 30, 7
    root = args.workdir
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    try:
        return run(args, root)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def run(args: argparse.Namespace, root: Path) -> int:
    dataset = args.dataset or root / "demo"
    gen_cmd = [sys.executable, "-m", "kpi_pipeline.demo", str(dataset), "--scale", str(args.scale)]
    gen_cmd += ["--days", str(args.days), "--kpis", str(args.kpis)]
    if args.dataset is not None:
        print(f"nproc {os.cpu_count()}, dataset {dataset} ({size_mib(dataset):,.0f} MiB), not generated")
    else:
        gen = run_wrapped(gen_cmd, clean_env(), root, args.timeout)
        print(f"nproc {os.cpu_count()}, {' '.join(gen_cmd[1:])}")
        print(f"  {gen['tail'][-1] if gen['tail'] else ''}")
        print(
            f"  generated in {gen['seconds']:.1f} s wall, {gen['cpu_seconds']:.1f} s CPU, "
            f"peak {gen['peak_mib']:.0f} MiB, {size_mib(dataset):,.0f} MiB on disk "
            f"(load {gen['load'][0]:.2f} -> {gen['load'][1]:.2f})"
        )
        if gen["rc"] != 0:
            return 1
    ranges = {"quarter": args.quarter_days, "year": args.days}
    results = {}
    print(f"{'range':<8} {'days':>5} {'wall s':>8} {'CPU s':>8} {'peak MiB':>9} {'warehouse MiB':>14}  load       exit")
    for name, days in ranges.items():
        first = LAST_DAY - timedelta(days=days - 1)
        got = measure_range(dataset, first, LAST_DAY, root / name, args.timeout)
        results[name] = got
        state = "timed out" if got["timed_out"] else str(got["rc"])
        print(
            f"{name:<8} {days:>5} {got['seconds']:>8.1f} {got['cpu_seconds']:>8.1f} {got['peak_mib']:>9.0f} "
            f"{got['warehouse_mib']:>14.1f}  {got['load'][0]:.2f}->{got['load'][1]:.2f}  {state}",
            flush=True,
        )
        if got["rc"] != 0 and not got["timed_out"]:
            print(f"         {got['tail']}")
    q, y = results["quarter"], results["year"]
    print(
        f"year/quarter: days {args.days / args.quarter_days:.2f}x, wall {y['seconds'] / q['seconds']:.2f}x, "
        f"CPU {y['cpu_seconds'] / q['cpu_seconds']:.2f}x, peak RSS {y['peak_mib'] / q['peak_mib']:.2f}x, "
        f"warehouse {y['warehouse_mib'] / max(q['warehouse_mib'], 1e-9):.2f}x"
        + ("  (the year was stopped: its figures are partial)" if y["timed_out"] else "")
    )
    print(f"{'step':<40} {'quarter s':>10} {'year s':>10}")
    for step in dict.fromkeys([*q["steps"], *y["steps"]]):
        cells = [f"{r['steps'][step][0]:>10.1f}" if step in r["steps"] else f"{'-':>10}" for r in (q, y)]
        notes = [
            f"{name} {r['steps'][step][1]}"
            for name, r in results.items()
            if r["steps"].get(step, (0, "done"))[1] != "done"
        ]
        print(f"{step:<40} {cells[0]} {cells[1]}  {'; '.join(notes)}".rstrip())
    return 0 if all(r["rc"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
