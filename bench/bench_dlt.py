"""Slack export ingestion: the project's path against a plain dlt pipeline, into DuckDB and PostgreSQL.

    .venv/bin/python bench/bench_dlt.py --scale 20                        # generates the demo company at 20x
    .venv/bin/python bench/bench_dlt.py --scale 100 --engines duckdb --pairs 1
    .venv/bin/python bench/bench_dlt.py --export DIR                      # any Slack export folder

Issue #16 compares the ingest with what a data engineer would reach for: dlt. dlt is not a project dependency,
so its side runs in a throwaway virtualenv (--dlt-venv, made once with uv, dlt pinned) as a child process:
a `@dlt.resource` yielding each channel-day file's messages, merged on (channel, ts) into a fresh DuckDB file or
a schema of its own in PostgreSQL (dropped after). The project side is bench_ingest's: `SlackSource` and a
`replace_days` transaction a day into a fresh warehouse.

Sides run as interleaved pairs (project, dlt, project, ...), each in its own process. Wall and CPU seconds cover
the load itself, not interpreter start or imports; CPU is the client process's (and its children's), never the
PostgreSQL server's. Both sides must load the same number of messages.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench_ingest import describe_export, run_side, slack_export

DLT_VERSION = "1.31.0"
DLT_REQUIREMENT = f"dlt[duckdb,postgres]=={DLT_VERSION}"
ENGINES = ("duckdb", "postgres")


def cpu_seconds() -> float:
    """User and system CPU of this process and its waited-for children so far."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def dlt_load(destination: Any, dataset: str, export: Path, pipelines_dir: str) -> dict[str, Any]:
    """The pipeline a data engineer would write for an export folder: one resource, merged on (channel, ts)."""
    from datetime import UTC, datetime

    import dlt

    @dlt.resource(name="slack_messages", write_disposition="merge", primary_key=("channel", "ts"))
    def slack_messages(folder: Path) -> Iterator[list[dict[str, Any]]]:
        for day_file in sorted(folder.glob("*/*.json")):
            yield [
                {
                    "channel": day_file.parent.name,
                    "ts": message["ts"],
                    "thread_ts": message.get("thread_ts"),
                    "user": message.get("user"),
                    "bot_id": message.get("bot_id"),
                    "subtype": message.get("subtype"),
                    "text": message.get("text"),
                    "reply_count": message.get("reply_count"),
                    "day": datetime.fromtimestamp(float(message["ts"]), UTC).date(),
                }
                for message in json.loads(day_file.read_bytes())
            ]

    pipeline = dlt.pipeline(
        pipeline_name="slack_export", pipelines_dir=pipelines_dir, destination=destination, dataset_name=dataset
    )
    started, cpu_started = time.perf_counter(), cpu_seconds()
    pipeline.run(slack_messages(export))
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    steps = {
        step.step: (step.finished_at - step.started_at).total_seconds()
        for step in pipeline.last_trace.steps
        if step.step != "run"  # the whole of the three
    }
    with pipeline.sql_client() as client:
        rows = client.execute_sql("SELECT count(*) FROM slack_messages")[0][0]
    return {"rows": rows, "seconds": seconds, "cpu_seconds": cpu, "steps": steps}


def dlt_side(engine: str, export: Path, postgres: str) -> dict[str, Any]:
    """dlt into a fresh DuckDB file, or into a PostgreSQL schema of its own and its staging schema, dropped after."""
    import dlt

    with tempfile.TemporaryDirectory(prefix="kpi-bench-dlt-") as tmp:
        if engine == "duckdb":
            return dlt_load(dlt.destinations.duckdb(f"{tmp}/warehouse.duckdb"), "slack", export, tmp)
        import psycopg2
        from dlt.destinations.impl.postgres.configuration import PostgresCredentials

        credentials = PostgresCredentials()
        credentials.parse_native_representation(postgres)
        credentials.password = credentials.password or ""  # dlt requires one; a trusting server takes no password
        dataset = f"kpi_bench_dlt_{uuid.uuid4().hex[:10]}"
        try:
            return dlt_load(dlt.destinations.postgres(credentials), dataset, export, tmp)
        finally:
            with psycopg2.connect(postgres) as pg, pg.cursor() as cur:
                cur.execute(f"DROP SCHEMA IF EXISTS {dataset} CASCADE; DROP SCHEMA IF EXISTS {dataset}_staging CASCADE")


def project_side(engine: str, export: Path, postgres: str) -> dict[str, Any]:
    """bench_ingest's project side (fresh warehouse, timed load), with the CPU it took."""
    cpu_started = cpu_seconds()
    figures: dict[str, Any] = dict(run_side(f"project_{engine}", export, postgres))
    figures["cpu_seconds"] = cpu_seconds() - cpu_started
    return figures


SIDES: dict[str, Callable[[str, Path, str], dict[str, Any]]] = {"project": project_side, "dlt": dlt_side}


def dlt_python(venv: Path, uv: list[str]) -> Path:
    """The python of the throwaway venv that holds the pinned dlt, made or repaired on first use."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([*uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    probe = subprocess.run([str(python), "-c", "import dlt; print(dlt.__version__)"], capture_output=True, text=True)
    if probe.stdout.strip() != DLT_VERSION:
        subprocess.run([*uv, "pip", "install", "--quiet", "--python", str(python), DLT_REQUIREMENT], check=True)
    return python


def child(python: Path, side: str, engine: str, export: Path, postgres: str) -> dict[str, Any]:
    """Run one side in a fresh interpreter (dlt's without telemetry) and return its figures."""
    environment = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"}
    command = [str(python), __file__, "--child", side, "--engines", engine, "--export", str(export)]
    command += ["--postgres", postgres]
    done = subprocess.run(command, capture_output=True, text=True, env=environment)
    if done.returncode != 0:
        sys.exit(f"{side} {engine} failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--export", type=Path, help="a Slack export folder (default: generate the demo company)")
    parser.add_argument("--scale", type=int, default=20, help="demo company scale when generating (100 ≈ 1.1M msgs)")
    parser.add_argument("--pairs", type=int, default=2, help="interleaved pairs per engine")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test", help="server to use")
    parser.add_argument("--dlt-venv", type=Path, default=Path("/tmp/bench-dlt-venv"), help="throwaway venv for dlt")
    parser.add_argument("--uv", default="python3 -m uv", help="how to call uv (as the Makefile does)")
    parser.add_argument("--child", choices=SIDES, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(SIDES[args.child](args.engines[0], args.export, args.postgres)))
        return

    dlt = dlt_python(args.dlt_venv, shlex.split(args.uv))
    pythons = {"project": Path(sys.executable), "dlt": dlt}
    with tempfile.TemporaryDirectory(prefix="kpi-bench-") as scratch:
        export = slack_export(args.export, args.scale, Path(scratch))
        print(f"export: {describe_export(export)}, {os.cpu_count()} cores, dlt {DLT_VERSION}")
        for engine in args.engines:
            wall_ratios, cpu_ratios = [], []
            for n in range(1, args.pairs + 1):
                load = os.getloadavg()[0]
                ours, theirs = (child(pythons[side], side, engine, export, args.postgres) for side in SIDES)
                if ours["rows"] != theirs["rows"]:
                    sys.exit(f"{engine}: the project loaded {ours['rows']:,} messages, dlt {theirs['rows']:,}")
                steps = ", ".join(f"{step} {seconds:.1f}" for step, seconds in theirs["steps"].items())
                wall_ratios.append(theirs["seconds"] / ours["seconds"])
                cpu_ratios.append(theirs["cpu_seconds"] / ours["cpu_seconds"])
                print(f"{engine} pair {n} (load {load:.2f}), {ours['rows']:,} messages each: "
                      f"project {ours['seconds']:.2f} s wall, {ours['cpu_seconds']:.2f} s CPU; "
                      f"dlt {theirs['seconds']:.2f} s wall ({steps}), {theirs['cpu_seconds']:.2f} s CPU; "
                      f"dlt/project {wall_ratios[-1]:.1f}x wall, {cpu_ratios[-1]:.1f}x CPU")  # fmt: skip
            print(f"{engine}: median dlt/project {statistics.median(wall_ratios):.1f}x wall, "
                  f"{statistics.median(cpu_ratios):.1f}x CPU over {len(wall_ratios)} pairs")  # fmt: skip


if __name__ == "__main__":
    main()
