"""`python -m kpi_pipeline.demo OUT [--seed N] [--scale N] [--phrasings standard|holdout]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kpi_pipeline.demo.generate import generate_dataset
from kpi_pipeline.demo.kpis import catalog_yaml
from kpi_pipeline.demo.phrasing import PHRASINGS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kpi_pipeline.demo", description=__doc__)
    parser.add_argument("out", type=Path, nargs="?", help="dataset folder to (re)write")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=int, default=1, help="workspace size multiplier (100 for benchmarks)")
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
    print(generate_dataset(args.out, seed=args.seed, scale=args.scale, phrasings=args.phrasings).describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
