"""Synthetic extract.metric_values rows and a small catalog, shared by the gate, publish and check tests.

The planted bad cases mirror the demo's: an out-of-range value, a low-confidence value, a quote that is
not in its source (ungrounded), and a value taken from text addressed to the model (prompt injection).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from kpi_pipeline.catalog import Catalog, parse_catalog
from kpi_pipeline.warehouse import Warehouse
from kpi_pipeline.warehouse.tables import METRIC_VALUES

CATALOG_DATA: dict[str, Any] = {
    "metrics": [
        {
            "id": "api_error_rate",
            "description": "Share of failed API requests",
            "unit": "percent",
            "validation": {"min": 0, "max": 100},
            "min_confidence": 0.7,
            "direction": "lower_is_better",
        },
        {
            "id": "p95_latency_ms",
            "description": "95th percentile API latency",
            "unit": "ms",
            "validation": {"min": 0},
            "min_confidence": 0.6,
            "direction": "lower_is_better",
        },
        {"id": "weekly_active_users", "description": "Users active in the last 7 days", "unit": "count"},
        {"id": "nps", "description": "Net promoter score", "unit": "points", "validation": {"min": -100, "max": 100}},
    ],
    "objectives": [
        {
            "id": "reliable_api",
            "title": "Make the public API boringly reliable",
            "quarter": "2026-Q3",
            "key_results": [
                {"metric": "api_error_rate", "baseline": 5.0, "target": 1.0},
                {"metric": "p95_latency_ms", "baseline": 400, "target": 200},
            ],
        }
    ],
    "okr_status": {"at_risk": 0.9, "off_track": 0.6},
}
CATALOG: Catalog = parse_catalog(CATALOG_DATA)
DAY = date(2026, 7, 2)


def write_catalog(path: Path, data: dict[str, Any] = CATALOG_DATA) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def evidence(*quotes: str, source_type: str = "slack") -> str:
    return json.dumps(
        [
            {"source_type": source_type, "source_id": f"{source_type}:C1:{i}", "url": f"https://x.test/{i}", "quote": q}
            for i, q in enumerate(quotes, start=1)
        ]
    )


def metric_row(metric_id: str, day: date, value: float | None, confidence: float = 0.9, **overrides: Any) -> dict:
    """One extract.metric_values row; a value of None is an abstention."""
    row: dict[str, Any] = {
        "metric_id": metric_id,
        "day": day,
        "status": "ok" if value is not None else "abstained",
        "value": value,
        "confidence": confidence,
        "n_sources": 1 if value is not None else 0,
        "grounded": value is not None,
        "evidence": evidence(f"{metric_id} is {value} today") if value is not None else "[]",
        "reasoning": "stated in the channel",
        "conflict": None,
        "model": "offline-1",
        "prompt_version": "2026-11-26.1",
        "run_id": "extract-run-1",
        "computed_at": pd.Timestamp("2026-07-03T01:00:00Z"),
        "period_start": day if value is not None else None,  # a daily reading of the day it was reported
        "period_end": day if value is not None else None,
        "reported_at": pd.Timestamp(day.isoformat() + "T09:00:00Z") if value is not None else pd.NaT,
    }
    row.update(overrides)
    return row


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=METRIC_VALUES.column_names)


def clean_day(day: date, scale: float = 1.0) -> pd.DataFrame:
    """A day where every metric passes, except one abstention."""
    return frame(
        metric_row("api_error_rate", day, round(3.0 * scale, 3)),
        metric_row("p95_latency_ms", day, round(300.0 * scale, 3), 0.8),
        metric_row("weekly_active_users", day, round(1200.0 * scale, 3), status="conflict", n_sources=2),
        metric_row("nps", day, None, 0.0),
    )


INJECTED = "suspected_prompt_injection: slack:C1:9 is text addressed to the model"
# the planted bad cases: case -> the row that replaces the metric's clean row on its day
PLANTED: dict[str, Callable[[date], dict]] = {
    "out_of_range": lambda day: metric_row("api_error_rate", day, 250.0),
    "low_confidence": lambda day: metric_row("p95_latency_ms", day, 310.0, 0.4),
    "ungrounded_quote": lambda day: metric_row(
        "weekly_active_users", day, 5000.0, 0.3, status="ungrounded", grounded=False, reasoning="quote_not_in_source"
    ),
    "prompt_injection": lambda day: metric_row(
        "nps", day, 100.0, 0.3, status="ungrounded", grounded=False, reasoning=INJECTED
    ),
}


def with_case(day: date, case: str) -> pd.DataFrame:
    """A clean day with one metric replaced by a planted bad case (quarantine rate 1/4)."""
    bad = PLANTED[case](day)
    rows = clean_day(day)
    rows = rows[rows["metric_id"] != bad["metric_id"]]
    return pd.concat([rows, frame(bad)], ignore_index=True)


def planted_days(days: list[date]) -> pd.DataFrame:
    """Clean days, with the planted bad cases on the first four (one a day)."""
    cases = list(PLANTED)
    return pd.concat(
        [with_case(d, cases[i]) if i < len(cases) else clean_day(d, 1 + i / 100) for i, d in enumerate(days)],
        ignore_index=True,
    )


def store(wh: Warehouse, rows: pd.DataFrame, days: list[date]) -> None:
    """Replace `days` of extract.metric_values with `rows`."""
    wh.replace_days(METRIC_VALUES, days, rows)
