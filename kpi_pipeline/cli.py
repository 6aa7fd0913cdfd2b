"""`kpi-pipeline`: the demo, backfills, evaluation and cost estimates from the command line."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from kpi_pipeline import settings
from kpi_pipeline.catalog import quarter_bounds

DEMO_SEED = 7
DEMO_QUARTER = "2026-Q3"


def _dagster_materialize(select: str, partition_range: str | None, env: dict[str, str]) -> None:
    cmd = [
        sys.executable,
        "-m",
        "dagster",
        "asset",
        "materialize",
        "-m",
        "kpi_pipeline.definitions",
        "--select",
        select,
    ]
    if partition_range:
        cmd += ["--partition-range", partition_range]
    proc = subprocess.run(cmd, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"dagster run failed (exit {proc.returncode}): {' '.join(cmd)}")


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate the demo company if needed, run the whole pipeline over its quarter, say what was made."""
    from kpi_pipeline.demo import generate_dataset

    dataset = Path(settings.DEMO_DATASET)
    marker = dataset / "truth.csv"
    started = time.monotonic()
    if not marker.exists() or args.regenerate:
        print(f"generating the demo company into {dataset}/ (seed {DEMO_SEED})")
        generate_dataset(dataset, seed=DEMO_SEED)
    env = dict(os.environ)
    env.setdefault("DAGSTER_HOME", str(Path(".dagster_home").resolve()))
    Path(env["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    env.setdefault("KPI_DATASET", str(dataset))
    first, last = quarter_bounds(DEMO_QUARTER)
    print(f"materializing {first}...{last} (one run for the quarter)")
    _dagster_materialize("kind:* and not key:kpi_dashboard", f"{first}...{last}", env)
    print(_summary(env, time.monotonic() - started))
    return 0


def _summary(env: dict[str, str], seconds: float) -> str:
    from kpi_pipeline.warehouse import open_warehouse
    from kpi_pipeline.warehouse.tables import ALL_TABLES

    url = env.get("KPI_WAREHOUSE_URL", settings.DEFAULT_WAREHOUSE_URL)
    wh = open_warehouse(url)
    lines = [f"\ndone in {seconds:.0f}s. Warehouse {url}:"]
    for t in ALL_TABLES:
        n = wh.scalar(f"SELECT count(*) FROM {t.qualified}")
        lines.append(f"  {t.qualified:<28} {n:>8} rows")
    lines += [
        f"Dagster instance: {env['DAGSTER_HOME']} (browse it with `make dev`, then http://127.0.0.1:3000)",
        "Query it: duckdb data/warehouse.duckdb  (docs/warehouse.md has example queries)",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kpi-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the whole pipeline on the demo company's quarter")
    demo.add_argument("--regenerate", action="store_true", help="regenerate the demo dataset first")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
