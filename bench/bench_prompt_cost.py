"""The demo quarter's Claude bill against the seed design's, from the prompts the code builds.

    .venv/bin/python bench/bench_prompt_cost.py            # 92 days of Q3: the estimate, a run through the local server
    .venv/bin/python bench/bench_prompt_cost.py --no-run   # the estimate only

The demo company (scale 1) is generated into a scratch folder and its Q3 days read from the sources. The bill is
`orchestration.estimate.estimate`: the requests `extract_days` sends (selection, then the metrics their sources
name), their prompts built by `prompts.build_prompt`, tokens counted block by block as the local Anthropic server
counts them, priced from `kpi_pipeline/prices.yaml` (batch, as a 92-day run goes). The seed design is one call per
catalog metric per day over all of the day's sources, the whole prompt as plain input (no prompt cache, no batch),
one answer out. Unless `--no-run`, the quarter is also extracted through the anthropic backend against the local
server (in this process; a Message Batch, an empty response cache) and the bill its responses report is printed
beside the estimate. Target (issue #16): the seed bill at least 40x the run's, at equal accuracy (`kpi-pipeline eval`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

FIRST_DAY = date(2026, 7, 1)
MODEL = "claude-sonnet-5-5"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=92)
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--no-run", action="store_true", help="skip the run through the local server")
    args = parser.parse_args(argv)

    from kpi_pipeline.catalog import load_catalog
    from kpi_pipeline.demo.generate import generate_dataset
    from kpi_pipeline.extraction.cost import load_prices
    from kpi_pipeline.extraction.pipeline import extract_days
    from kpi_pipeline.orchestration.estimate import estimate, raw_days_from_sources
    from kpi_pipeline.resources.docs import DocsSource
    from kpi_pipeline.resources.jira import JiraSource
    from kpi_pipeline.resources.llm import LlmResource
    from kpi_pipeline.resources.slack import SlackSource
    from kpi_pipeline.testing.anthropic_server import serve_anthropic

    prices = load_prices()
    with tempfile.TemporaryDirectory(prefix="kpi-bench-cost-") as tmp:
        data = Path(tmp) / "demo"
        generate_dataset(data)
        catalog = load_catalog(data / "metrics.yaml")
        days = [FIRST_DAY + timedelta(days=n) for n in range(args.days)]
        sources = (SlackSource(source=str(data / "slack")), JiraSource(source=str(data / "jira")))
        raw = raw_days_from_sources(*sources, DocsSource(source=str(data / "docs")), days)
        planned = estimate(raw, catalog, args.model, prices)
        print(planned.report())
        if not args.no_run:
            with serve_anthropic(api_key="bench-key") as server:
                llm = LlmResource(
                    backend="anthropic",
                    api_key="bench-key",
                    base_url=server.base_url,
                    model=args.model,
                    requests_per_minute=0,
                    input_tokens_per_minute=0,
                    response_cache_dir=str(Path(tmp) / "cache"),
                )
                extracted = extract_days(raw, catalog, llm.get_backend())
            calls = [row for day in extracted.values() for row in day.calls.to_dict("records")]
            billed = sum(row["cost_usd"] for row in calls)
            kinds = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")
            tokens = ", ".join(f"{kind} {sum(int(row[kind]) for row in calls):,}" for kind in kinds)
            print(
                f"run through the local server: {len(calls)} calls, {tokens}; billed ${billed:,.4f} "
                f"({billed / planned.cost_usd:.2f}x the estimate); the seed design is "
                f"{planned.cost_usd_seed / billed:.1f}x that"
            )
    load = os.getloadavg()
    print(f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
