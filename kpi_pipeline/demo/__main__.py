"""`python -m kpi_pipeline.demo OUT [--seed N] [--scale N] [--days N] [--kpis N] [--phrasings standard|holdout]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kpi_pipeline.demo.generate import MAX_DAYS, MIN_DAYS, generate_dataset
from kpi_pipeline.demo.kpis import KPIS, QUARTER_DAYS, catalog_yaml
from kpi_pipeline.demo.more_kpis import MAX_KPIS
from kpi_pipeline.demo.phrasing import PHRASINGS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kpi_pipeline.demo", description=__doc__)
    parser.add_argument("out", type=Path, nargs="?", help="dataset folder to (re)write")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=int, default=1, help="workspace size multiplier (100 for benchmarks)")
    parser.add_argument(
        "--days",
        type=int,
        default=QUARTER_DAYS,
        help=f"days ending 2026-09-30 ({MIN_DAYS}-{MAX_DAYS}; {QUARTER_DAYS}: the quarter 2026-Q3, 365: a year)",
    )
    parser.add_argument(
        "--kpis",
        type=int,
        default=len(KPIS),
        help=f"metrics in the catalog ({len(KPIS)}-{MAX_KPIS}; {len(KPIS)}: the demo's)",
    )
    parser.add_argument("--phrasings", choices=PHRASINGS, default="standard")
    parser.add_argument("--write-catalog", type=Path, metavar="PATH", help="only write the demo metrics.yaml here")
    args = parser.parse_args(argv)
    if args.write_catalog:
        args.write_catalog.write_text(catalog_yaml())
        print(f"wrote {args.write_catalog}")
        return 0
    if args.out is None:
        parser.error("give an output folder, or --write-catalog PATH")
    if args.scale < 1:
        parser.error("--scale must be at least 1")
    if not MIN_DAYS <= args.days <= MAX_DAYS:
        parser.error(f"--days must be between {MIN_DAYS} and {MAX_DAYS}")
    if not len(KPIS) <= args.kpis <= MAX_KPIS:
        parser.error(f"--kpis must be between {len(KPIS)} and {MAX_KPIS}")
    summary = generate_dataset(
        args.out, seed=args.seed, scale=args.scale, phrasings=args.phrasings, days=args.days, kpis=args.kpis
    )
    print(summary.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
