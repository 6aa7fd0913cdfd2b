"""The model is told a metric's direction only when the catalog gave it or a key result implies it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from kpi_pipeline.catalog import parse_catalog
from kpi_pipeline.extraction.prompts import METRICS_CLOSE, METRICS_OPEN, build_prompt, parse_request
from kpi_pipeline.extraction.schema import ExtractionRequest, SourceDoc

CATALOG = parse_catalog(
    {
        "metrics": [
            {"id": "churn", "description": "Customers lost that month, in percent", "unit": "percent"},
            {"id": "p95_latency_ms", "description": "95th percentile API latency", "unit": "ms"},
            {"id": "signups", "description": "New accounts", "unit": "count", "direction": "higher_is_better"},
        ],
        "objectives": [
            {
                "id": "keep_customers",
                "title": "Keep customers",
                "quarter": "2026-Q3",
                "key_results": [{"metric": "churn", "baseline": 4.0, "target": 2.0}],
            }
        ],
    }
)
REQUEST = ExtractionRequest(
    date(2026, 7, 1),
    "slack",
    ("churn", "p95_latency_ms"),
    (SourceDoc("slack", "slack:C1:1.1", "p95 was 420 ms", datetime(2026, 7, 1, 9, tzinfo=UTC)),),
)


def _sent_directions() -> dict[str, str]:
    prompt = build_prompt(REQUEST, [CATALOG.metric("churn"), CATALOG.metric("p95_latency_ms")], CATALOG.metrics)
    catalog_block = prompt.user_blocks[0]["text"]
    specs = json.loads(
        catalog_block[catalog_block.find(METRICS_OPEN) + len(METRICS_OPEN) : catalog_block.rfind(METRICS_CLOSE)]
    )
    return {m["id"]: m["direction"] for m in specs}


def test_the_prompt_sends_the_written_or_inferred_direction_and_unknown_otherwise() -> None:
    assert _sent_directions() == {
        "churn": "lower_is_better",  # from the key result: target below baseline
        "p95_latency_ms": "unknown",  # nothing says; never the old silent higher_is_better
        "signups": "higher_is_better",  # as written
    }


def test_an_unknown_direction_survives_the_round_trip_through_the_local_server_format() -> None:
    prompt = build_prompt(REQUEST, [CATALOG.metric("churn"), CATALOG.metric("p95_latency_ms")], CATALOG.metrics)
    _, metrics = parse_request(json.loads(json.dumps(prompt.messages)))
    assert {m.id: m.direction for m in metrics} == {
        "churn": "lower_is_better",
        "p95_latency_ms": "unknown",
        "signups": "higher_is_better",
    }
