"""A synthetic published warehouse: a quarter (or a year) of KPIs, OKRs, evidence, quarantine and LLM costs.

The dashboard's tests, its benchmark and its first screenshot need published rows before the whole
pipeline runs; these are written straight into the `kpi` and `extract` tables, seeded, so the same
arguments always give the same rows.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from kpi_pipeline.catalog import quarter_bounds
from kpi_pipeline.warehouse import Warehouse
from kpi_pipeline.warehouse.publish import ensure_kpi_schema
from kpi_pipeline.warehouse.tables import (
    DIM_METRIC,
    FCT_METRIC_DAILY,
    FCT_METRIC_EVIDENCE,
    LLM_CALLS,
    METRIC_QUARANTINE,
    METRIC_VALUES,
    OKR_KEY_RESULTS,
    OKR_OBJECTIVES,
    Table,
)

MODEL = "claude-sonnet-4-5"
PROMPT_VERSION = "2026-07-01.1"
RUN_ID = "4f1c2a9e-0000-4000-8000-00000000run1"


@dataclass(frozen=True)
class SampleMetric:
    metric_id: str
    description: str
    unit: str
    direction: str
    baseline: float
    target: float
    pace: float  # share of the way to target reached by the quarter's end
    min_value: float | None = 0.0
    max_value: float | None = None


NAMED = (
    SampleMetric(
        "api_error_rate",
        "Share of production API requests that failed (5xx)",
        "percent",
        "lower_is_better",
        5.0,
        1.0,
        0.95,
        0.0,
        100.0,
    ),
    SampleMetric(
        "p95_latency_ms",
        "95th percentile latency of the public API",
        "ms",
        "lower_is_better",
        520.0,
        350.0,
        0.55,
        0.0,
        60000.0,
    ),
    SampleMetric(
        "uptime_percent",
        "Availability of the public API over the trailing 7 days",
        "percent",
        "higher_is_better",
        99.8,
        99.95,
        0.3,
        0.0,
        100.0,
    ),
    SampleMetric(
        "mrr_usd",
        "Monthly recurring revenue at the end of the day",
        "usd",
        "higher_is_better",
        940000.0,
        1150000.0,
        0.9,
    ),
    SampleMetric(
        "customer_churn_rate",
        "Share of paying customers lost over the trailing 30 days",
        "percent",
        "lower_is_better",
        3.2,
        2.5,
        0.75,
        0.0,
        100.0,
    ),
    SampleMetric(
        "nps",
        "Net Promoter Score from the customer survey",
        "score",
        "higher_is_better",
        31.0,
        45.0,
        0.5,
        -100.0,
        100.0,
    ),
)
OBJECTIVES = (
    ("reliable_api", "Make the public API boringly reliable", 3),
    ("grow_revenue", "Grow revenue without buying it", 2),
    ("delight_customers", "Customers get help fast and recommend us", 1),
)
SOURCES = (("slack", 0.6), ("jira", 0.8), ("docs", 0.9))


def sample_metrics(n_metrics: int) -> list[SampleMetric]:
    """The named demo-like metrics first, then generic ones up to `n_metrics`."""
    metrics = list(NAMED[:n_metrics])
    for i in range(len(metrics), n_metrics):
        lower = i % 3 == 0
        base = 100.0 + 7 * i
        metrics.append(
            SampleMetric(
                f"kpi_{i:02d}",
                f"Synthetic KPI number {i}",
                "count",
                "lower_is_better" if lower else "higher_is_better",
                base,
                base * (0.7 if lower else 1.4),
                0.4 + (i % 5) * 0.15,
            )
        )
    return metrics


def _objective_of(metrics: list[SampleMetric]) -> dict[str, tuple[str, str]]:
    """Which objective each key-result metric belongs to: the named split, then generic objectives of 4."""
    owner: dict[str, tuple[str, str]] = {}
    position = 0
    for objective_id, title, size in OBJECTIVES:
        for m in metrics[position : position + size]:
            owner[m.metric_id] = (objective_id, title)
        position += size
    rest = metrics[position:]
    for n in range(0, len(rest) - len(rest) // 4, 4):  # leave a quarter of them outside every objective
        for m in rest[n : n + 4]:
            owner[m.metric_id] = (f"objective_{n // 4 + 1:02d}", f"Synthetic objective {n // 4 + 1}")
    return owner


def _quote(m: SampleMetric, value: float, source_type: str) -> str:
    shown = f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    phrases = {
        "slack": f"quick update: {m.metric_id.replace('_', ' ')} is at {shown} this morning",
        "jira": f"Status check: {m.metric_id.replace('_', ' ')} measured {shown} after the fix rolled out",
        "docs": f"Weekly report — {m.description}: {shown}",
    }
    return phrases[source_type]


def _evidence(m: SampleMetric, day: date, value: float, sources: list[str]) -> list[dict[str, str]]:
    items = []
    for n, source_type in enumerate(sources, start=1):
        stamp = day.strftime("%Y%m%d")
        source_id = {
            "slack": f"C0METRICS:{stamp}.{n:06d}",
            "jira": f"PLAT-{(day.toordinal() % 900) + 100}#comment-{n}",
            "docs": f"reports/weekly-{stamp}.md@{stamp}a{n}",
        }[source_type]
        url = {
            "slack": f"https://acme.slack.com/archives/C0METRICS/p{stamp}{n:06d}",
            "jira": f"https://acme.atlassian.net/browse/{source_id.split('#')[0]}",
            "docs": f"https://git.acme.test/docs/blob/main/reports/weekly-{stamp}.md",
        }[source_type]
        items.append(
            {"source_type": source_type, "source_id": source_id, "url": url, "quote": _quote(m, value, source_type)}
        )
    return items


def sample_frames(
    quarter: str = "2026-Q3", n_metrics: int = 6, n_days: int | None = None, seed: int = 7
) -> dict[Table, pd.DataFrame]:
    """Rows for every table the dashboard reads. `n_days` ends at the quarter's last day (default: the quarter)."""
    start, end = quarter_bounds(quarter)
    n_days = n_days or (end - start).days + 1
    first = end - timedelta(days=n_days - 1)
    days = [first + timedelta(days=i) for i in range(n_days)]
    rng = random.Random(seed)
    metrics = sample_metrics(n_metrics)
    owner = _objective_of(metrics)
    published_at = datetime(end.year, end.month, end.day, 6, 0, tzinfo=UTC)
    facts, evidence, quarantine, values, calls = [], [], [], [], []
    for m in metrics:
        span = m.target - m.baseline
        for day in days:
            elapsed = max(0.0, min(1.0, ((day - start).days + 1) / ((end - start).days + 1)))
            noise = rng.gauss(0, abs(span) * 0.04)
            value = round(m.baseline + span * m.pace * elapsed + noise, 4 if abs(m.baseline) < 1000 else 0)
            roll = rng.random()
            if roll < 0.06:  # abstained: not enough evidence, no row published
                continue
            n_sources = 1 + int(rng.random() < 0.6) + int(rng.random() < 0.3)
            sources = [s for s, _ in rng.sample(SOURCES, n_sources)]
            items = _evidence(m, day, value, sources)
            if roll < 0.09:
                held_value = round(value * 40, 2) if roll < 0.075 else value
                items = _evidence(m, day, held_value, sources)
                confidence = 0.91 if roll < 0.075 else 0.42
                reasons = (
                    [f"value_in_range: {held_value:g} is above the metric's maximum {m.max_value or value * 10:g}"]
                    if roll < 0.075
                    else ["min_confidence: confidence 0.42 is below the metric's min_confidence 0.7"]
                )
                quarantine.append(
                    {
                        "metric_id": m.metric_id,
                        "day": day,
                        "value": held_value,
                        "confidence": confidence,
                        "reasons": json.dumps(reasons),
                        "evidence": json.dumps(items),
                        "run_id": RUN_ID,
                    }
                )
                values.append(_value_row(m, day, held_value, confidence, "ok", items, None, "a unit slip in a thread"))
                continue
            conflict = None
            status = "ok"
            confidence = round(min(0.99, 0.72 + rng.random() * 0.26), 3)
            if roll < 0.14 and n_sources > 1:
                status = "conflict"
                confidence = round(confidence * 0.85, 3)
                other = round(value * (1.15 if rng.random() < 0.5 else 0.87), 4)
                conflict = [
                    {
                        "source_type": sources[0],
                        "value": value,
                        "confidence": confidence,
                        "grounded": True,
                        "evidence": [items[0]],
                    },
                    {
                        "source_type": sources[1],
                        "value": other,
                        "confidence": round(confidence * 0.8, 3),
                        "grounded": True,
                        "evidence": [{**items[1], "quote": _quote(m, other, sources[1])}],
                    },
                ]
            facts.append(
                {
                    "metric_id": m.metric_id,
                    "day": day,
                    "value": value,
                    "confidence": confidence,
                    "status": status,
                    "n_sources": n_sources,
                    "model": MODEL,
                    "prompt_version": PROMPT_VERSION,
                    "run_id": RUN_ID,
                    "published_at": published_at,
                }
            )
            for n, item in enumerate(items, start=1):
                evidence.append({"metric_id": m.metric_id, "day": day, "evidence_no": n, **item})
            reasoning = "the newest statement of the day, from the most authoritative source"
            values.append(_value_row(m, day, value, confidence, status, items, conflict, reasoning))
    for day in days:
        for n, (source_type, _) in enumerate(SOURCES):
            cached = rng.random() < 0.7
            calls.append(
                {
                    "call_id": f"{day.isoformat()}-{source_type}",
                    "day": day,
                    "source_type": source_type,
                    "metric_ids": json.dumps([m.metric_id for m in metrics]),
                    "backend": "anthropic",
                    "model": MODEL,
                    "prompt_version": PROMPT_VERSION,
                    "request_hash": f"{day.toordinal():08x}{n}",
                    "input_tokens": rng.randint(800, 2400),
                    "cache_creation_input_tokens": 0 if cached else rng.randint(6000, 12000),
                    "cache_read_input_tokens": rng.randint(6000, 12000) if cached else 0,
                    "output_tokens": rng.randint(300, 900),
                    "cost_usd": round(rng.uniform(0.01, 0.06), 5),
                    "latency_ms": rng.uniform(900, 4000),
                    "response_cache_hit": False,
                    "batch": True,
                    "stop_reason": "end_turn",
                    "run_id": RUN_ID,
                    "called_at": published_at,
                }
            )
    objectives = {oid: title for oid, title in owner.values()}
    key_results = []
    numbers: dict[str, int] = {}
    for m in metrics:
        if m.metric_id in owner:
            oid = owner[m.metric_id][0]
            numbers[oid] = numbers.get(oid, 0) + 1
            key_results.append(
                {
                    "objective_id": oid,
                    "key_result_no": numbers[oid],
                    "metric_id": m.metric_id,
                    "baseline": m.baseline,
                    "target": m.target,
                }
            )
    return {
        DIM_METRIC: pd.DataFrame(
            [
                {
                    "metric_id": m.metric_id,
                    "description": m.description,
                    "unit": m.unit,
                    "direction": m.direction,
                    "min_value": m.min_value,
                    "max_value": m.max_value,
                    "min_confidence": 0.7,
                    "direction_source": "catalog",
                }
                for m in metrics
            ]
        ),
        OKR_OBJECTIVES: pd.DataFrame(
            [
                {
                    "objective_id": oid,
                    "title": title,
                    "quarter": quarter,
                    "quarter_start": start,
                    "quarter_end": end,
                    "at_risk_below": 0.9,
                    "off_track_below": 0.6,
                }
                for oid, title in objectives.items()
            ]
        ),
        OKR_KEY_RESULTS: pd.DataFrame(key_results),
        FCT_METRIC_DAILY: pd.DataFrame(facts),
        FCT_METRIC_EVIDENCE: pd.DataFrame(evidence),
        METRIC_QUARANTINE: pd.DataFrame(quarantine),
        METRIC_VALUES: pd.DataFrame(values),
        LLM_CALLS: pd.DataFrame(calls),
    }


def _value_row(
    m: SampleMetric,
    day: date,
    value: float,
    confidence: float,
    status: str,
    items: list[dict[str, str]],
    conflict: list[dict[str, object]] | None,
    why: str,
) -> dict[str, object]:
    chosen = items[0]["source_type"]
    return {
        "metric_id": m.metric_id,
        "day": day,
        "status": status,
        "value": value,
        "confidence": confidence,
        "n_sources": len(items),
        "grounded": True,
        "evidence": json.dumps(items),
        "reasoning": f"{status}: {chosen} reading {value:g} chosen (authority, then recency). {why}",
        "conflict": json.dumps(conflict) if conflict else None,
        "model": MODEL,
        "prompt_version": PROMPT_VERSION,
        "run_id": RUN_ID,
        "computed_at": datetime(day.year, day.month, day.day, 23, 0, tzinfo=UTC),
    }


def write_sample(wh: Warehouse, quarter: str = "2026-Q3", n_metrics: int = 6, n_days: int | None = None) -> None:
    """Replace the dashboard's tables in `wh` with a synthetic published quarter (or `n_days` up to its end)."""
    wh.ensure_tables()
    ensure_kpi_schema(wh)
    frames = sample_frames(quarter, n_metrics, n_days)
    with wh.transaction() as tx:
        for table, frame in frames.items():
            tx.execute(f"DELETE FROM {table.qualified}")
            tx.insert_df(table, frame)
