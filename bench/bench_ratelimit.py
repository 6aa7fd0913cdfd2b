"""Sync extraction against the rate limits: wall time vs what the limits allow, through the local Anthropic server.

    .venv/bin/python bench/bench_ratelimit.py                           # 14 demo days, 1 s latency, 50 rpm
    .venv/bin/python bench/bench_ratelimit.py --days 7 --itpm 30000     # the client's default token limit too

The demo company (scale 1) is generated into a scratch folder; its first `--days` days of Q3 are read from the
sources and extracted with the anthropic backend (sync, no Message Batch, an empty response cache) as the
extraction asset does, against the local server (in this process) with `--latency` and `--rpm` faults; the
client's limits are `--rpm` requests and `--itpm` input tokens a minute (0: none, as the local server has none).

The bound is the slowest of what the limits allow: calls / rpm minutes (the request-rate bound), the input
tokens the API counts (uncached and cache writes) / itpm minutes, and calls x latency / concurrency.
Target: wall time at most 1.2x the bound, with no 429 answered.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

FIRST_DAY = date(2026, 7, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--rpm", type=int, default=50, help="the server's and the client's requests per minute")
    parser.add_argument("--itpm", type=int, default=0, help="the client's input tokens per minute (0: no limit)")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds the server adds to every request")
    parser.add_argument("--concurrency", type=int, default=4, help="KPI_LLM_MAX_CONCURRENCY")
    args = parser.parse_args(argv)

    from kpi_pipeline.catalog import load_catalog
    from kpi_pipeline.demo.generate import generate_dataset
    from kpi_pipeline.extraction.pipeline import extract_days
    from kpi_pipeline.extraction.ratelimit import counted_input_tokens
    from kpi_pipeline.orchestration.estimate import raw_days_from_sources
    from kpi_pipeline.resources.docs import DocsSource
    from kpi_pipeline.resources.jira import JiraSource
    from kpi_pipeline.resources.llm import LlmResource
    from kpi_pipeline.resources.slack import SlackSource
    from kpi_pipeline.testing.anthropic_server import serve_anthropic

    with tempfile.TemporaryDirectory(prefix="kpi-bench-rl-") as tmp:
        data = Path(tmp) / "demo"
        generate_dataset(data)
        catalog = load_catalog(data / "metrics.yaml")
        days = [FIRST_DAY + timedelta(days=n) for n in range(args.days)]
        raw = raw_days_from_sources(
            SlackSource(source=str(data / "slack")),
            JiraSource(source=str(data / "jira")),
            DocsSource(source=str(data / "docs")),
            days,
        )
        with serve_anthropic(api_key="bench-key", latency_s=args.latency, rpm=args.rpm) as server:
            llm = LlmResource(
                backend="anthropic",
                api_key="bench-key",
                base_url=server.base_url,
                max_concurrency=args.concurrency,
                requests_per_minute=args.rpm,
                input_tokens_per_minute=args.itpm,
                response_cache_dir=str(Path(tmp) / "cache"),
                batch_min_days=0,
            )
            backend = llm.get_backend()
            started = time.perf_counter()
            extracted = extract_days(raw, catalog, backend)
            wall_s = time.perf_counter() - started
            sent = server.message_requests
    calls = [row for day in extracted.values() for row in day.calls.to_dict("records")]
    counted = sum(
        counted_input_tokens(
            row["model"],
            uncached=row["input_tokens"],
            cache_write=row["cache_creation_input_tokens"],
            cache_read=row["cache_read_input_tokens"],
        )
        for row in calls
    )
    request_bound_s = len(calls) / args.rpm * 60
    token_bound_s = counted / args.itpm * 60 if args.itpm else 0.0
    latency_bound_s = len(calls) * args.latency / args.concurrency
    bound_s = max(request_bound_s, token_bound_s, latency_bound_s)
    load = os.getloadavg()
    print(
        f"{args.days} days: {len(calls)} calls ({sent - len(calls)} answered 429), {counted} input tokens counted; "
        f"{args.rpm} rpm, itpm {args.itpm or 'none'}, {args.latency:g} s latency, concurrency {args.concurrency}\n"
        f"bounds: requests {request_bound_s:.1f} s, tokens {token_bound_s:.1f} s, latency {latency_bound_s:.1f} s\n"
        f"wall {wall_s:.1f} s, ratio {wall_s / bound_s:.2f}x the bound "
        f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
