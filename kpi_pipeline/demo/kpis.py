"""The demo's KPIs: one definition per metric feeds both the catalog (metrics.yaml) and the true daily series.

`catalog_yaml()` renders the repo-root metrics.yaml; a test keeps the two byte-equal, so the catalog and
the generator cannot drift apart. Edit KPIS / OBJECTIVES here, then run
`python -m kpi_pipeline.demo --write-catalog metrics.yaml`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import yaml

QUARTER = "2026-Q3"
QUARTER_START = date(2026, 7, 1)
QUARTER_END = date(2026, 9, 30)
QUARTER_DAYS = (QUARTER_END - QUARTER_START).days + 1


@dataclass(frozen=True)
class KpiDef:
    # catalog fields
    id: str
    description: str
    unit: str
    aliases: tuple[str, ...]  # the "standard" phrasing set writes exactly these names
    sources: tuple[str, ...]
    min_value: float
    max_value: float
    direction: str
    # generation
    style: str  # how values are written, see phrasing.value_forms
    start: float  # true value on the first day of the quarter
    end: float  # and on the last day (a linear trend plus noise between them)
    noise: float  # relative day-to-day wobble
    grain: float  # values are rounded to this step, so every written form of a value is exact
    target: float  # quoted as a distractor ("target is 2%")
    channel: str  # Slack channel where people report it
    slack_rate: float  # chance that a weekday has a Slack reading
    jira_issue: str | None = None  # Jira tracking issue whose comments carry readings
    jira_rate: float = 0.0
    doc_places: tuple[str, ...] = ()  # kinds of docs that always report it (status, review, survey, postmortem)
    min_confidence: float | None = None
    tolerance: float | None = None
    # what a day's value is (docs/catalog.md "Time"): a snapshot, or a flow over its window
    kind: str = "flow"
    window: str | None = "day"


KPIS: tuple[KpiDef, ...] = (
    KpiDef(
        "api_error_rate",
        "Share of production API requests that failed (5xx), in percent",
        "percent",
        ("error rate", "5xx rate", "API error rate", "failed requests"),
        ("slack", "jira", "docs"),
        0,
        100,
        "lower_is_better",
        "percent",
        4.8,
        1.6,
        0.12,
        0.1,
        1.0,
        "engineering",
        0.35,
        "OPS-1",
        0.12,
        ("status",),
    ),
    KpiDef(
        "p95_latency_ms",
        "95th percentile latency of the public API, in milliseconds",
        "ms",
        ("p95 latency", "p95", "95th percentile latency"),
        ("slack", "docs"),
        0,
        60000,
        "lower_is_better",
        "ms",
        520,
        360,
        0.06,
        10,
        350,
        "engineering",
        0.3,
        doc_places=("status",),
    ),
    KpiDef(
        "weekly_active_users",
        "Distinct users active in the trailing 7 days",
        "count",
        ("weekly active users", "WAU", "weekly actives"),
        ("slack", "docs"),
        0,
        1e9,
        "higher_is_better",
        "big_count",
        11800,
        15600,
        0.015,
        100,
        16000,
        "growth",
        0.2,
        doc_places=("status", "review"),
        kind="flow",
        window="rolling_7d",
    ),
    KpiDef(
        "signup_conversion",
        "Share of website visitors who sign up, in percent",
        "percent",
        ("signup conversion", "conversion rate", "visitor-to-signup conversion"),
        ("slack", "docs"),
        0,
        100,
        "higher_is_better",
        "percent",
        3.1,
        4.2,
        0.05,
        0.1,
        4.5,
        "growth",
        0.3,
        doc_places=("status",),
    ),
    KpiDef(
        "nps",
        "Net Promoter Score from the customer survey (-100..100)",
        "score",
        ("NPS", "net promoter score"),
        ("slack", "docs"),
        -100,
        100,
        "higher_is_better",
        "score",
        31,
        44,
        0.04,
        1,
        45,
        "product",
        0.04,
        doc_places=("survey",),
        min_confidence=0.8,
        kind="snapshot",
        window=None,
    ),
    KpiDef(
        "mrr_usd",
        "Monthly recurring revenue at the end of the day, in US dollars",
        "usd",
        ("MRR", "monthly recurring revenue"),
        ("slack", "docs"),
        0,
        1e10,
        "higher_is_better",
        "usd",
        940000,
        1120000,
        0.004,
        10000,
        1150000,
        "finance",
        0.15,
        doc_places=("review",),
        kind="snapshot",
        window=None,
    ),
    KpiDef(
        "deploys_per_day",
        "Production deploys shipped that day",
        "count",
        ("deploys", "production deploys", "deploy count"),
        ("slack",),
        0,
        1000,
        "higher_is_better",
        "count",
        9,
        16,
        0.25,
        1,
        20,
        "deploys",
        0.55,
        tolerance=0.0,
    ),
    KpiDef(
        "mttr_minutes",
        "Mean time to recovery over the trailing 30 days, in minutes",
        "minutes",
        ("MTTR", "mean time to recovery", "time to recover"),
        ("slack", "jira", "docs"),
        0,
        100000,
        "lower_is_better",
        "minutes",
        96,
        42,
        0.05,
        1,
        45,
        "incidents",
        0.08,
        "OPS-1",
        0.1,
        ("postmortem",),
        kind="flow",
        window="rolling_30d",
    ),
    KpiDef(
        "open_p1_bugs",
        "Open bugs with P1 priority at the end of the day",
        "count",
        ("open P1 bugs", "P1 count", "open P1s"),
        ("slack", "jira"),
        0,
        10000,
        "lower_is_better",
        "count",
        14,
        5,
        0.12,
        1,
        3,
        "engineering",
        0.1,
        "OPS-2",
        0.3,
        tolerance=0.0,
        kind="snapshot",
        window=None,
    ),
    KpiDef(
        "uptime_percent",
        "Availability of the public API over the trailing 7 days, in percent",
        "percent",
        ("uptime", "availability"),
        ("slack", "jira", "docs"),
        0,
        100,
        "higher_is_better",
        "percent",
        99.8,
        99.97,
        0.0006,
        0.01,
        99.95,
        "incidents",
        0.15,
        "OPS-1",
        0.1,
        ("status",),
        min_confidence=0.8,
        kind="flow",
        window="rolling_7d",
    ),
    KpiDef(
        "customer_churn_rate",
        "Share of paying customers lost over the trailing 30 days, in percent",
        "percent",
        ("churn", "monthly churn", "logo churn"),
        ("slack", "docs"),
        0,
        100,
        "lower_is_better",
        "percent",
        3.2,
        2.4,
        0.04,
        0.1,
        2.5,
        "finance",
        0.08,
        doc_places=("review",),
        kind="flow",
        window="rolling_30d",
    ),
    KpiDef(
        "support_first_response_minutes",
        "Median time to the first human reply on a support ticket, in minutes",
        "minutes",
        ("first response time", "FRT", "support first-response time"),
        ("slack", "jira"),
        0,
        100000,
        "lower_is_better",
        "minutes",
        110,
        40,
        0.1,
        1,
        45,
        "support",
        0.3,
        "OPS-3",
        0.15,
    ),
)

OBJECTIVES: tuple[dict[str, Any], ...] = (
    {
        "id": "reliable_api",
        "title": "Make the public API boringly reliable",
        "quarter": QUARTER,
        "key_results": [
            {"metric": "api_error_rate", "baseline": 5.0, "target": 1.0},
            {"metric": "p95_latency_ms", "baseline": 520, "target": 350},
            {"metric": "uptime_percent", "baseline": 99.8, "target": 99.95},
        ],
    },
    {
        "id": "grow_revenue",
        "title": "Grow revenue without buying it",
        "quarter": QUARTER,
        "key_results": [
            {"metric": "mrr_usd", "baseline": 940000, "target": 1150000},
            {"metric": "customer_churn_rate", "baseline": 3.2, "target": 2.5},
            {"metric": "weekly_active_users", "baseline": 11800, "target": 16000},
        ],
    },
    {
        "id": "delight_customers",
        "title": "Customers get help fast and recommend us",
        "quarter": QUARTER,
        "key_results": [
            {"metric": "nps", "baseline": 31, "target": 45},
            {"metric": "support_first_response_minutes", "baseline": 110, "target": 45},
        ],
    },
)

SOURCE_AUTHORITY = {"docs": 0.9, "jira": 0.8, "slack": 0.6}
CATALOG_HEADER = (
    "# The demo company's metric and OKR catalog (format: docs/catalog.md).\n"
    "# Generated from kpi_pipeline/demo/kpis.py by `python -m kpi_pipeline.demo --write-catalog metrics.yaml`;\n"
    "# tests keep the two equal, so edit kpis.py and regenerate.\n"
)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def catalog_dict(aliases: Mapping[str, Sequence[str]] | None = None, kpis: Sequence[KpiDef] = KPIS) -> dict[str, Any]:
    """The catalog of `kpis`; `aliases` replaces the metrics' names with a dataset's own vocabulary (a company's
    metrics.yaml names its metrics the way its people write them)."""
    metrics = []
    for k in kpis:
        entry: dict[str, Any] = {
            "id": k.id,
            "description": k.description,
            "unit": k.unit,
            "aliases": list(aliases[k.id] if aliases else k.aliases),
            "sources": list(k.sources),
            "validation": {"min": _number(k.min_value), "max": _number(k.max_value)},
            "direction": k.direction,
        }
        entry["kind"] = k.kind
        if k.window:
            entry["window"] = k.window
        if k.min_confidence is not None:
            entry["min_confidence"] = k.min_confidence
        if k.tolerance is not None:
            entry["tolerance"] = k.tolerance
        metrics.append(entry)
    return {"metrics": metrics, "objectives": list(OBJECTIVES), "source_authority": SOURCE_AUTHORITY}


def catalog_yaml(aliases: Mapping[str, Sequence[str]] | None = None, kpis: Sequence[KpiDef] = KPIS) -> str:
    """The text of metrics.yaml: the header comment plus the catalog in block style with flow-style leaves."""
    body = yaml.safe_dump(
        catalog_dict(aliases, kpis), sort_keys=False, default_flow_style=None, width=120, allow_unicode=True
    )
    return CATALOG_HEADER + body


def demo_days(count: int = QUARTER_DAYS) -> list[date]:
    """The `count` days that end with the demo quarter: by default the quarter itself, 365 is the year to 2026-Q3."""
    return [QUARTER_END - timedelta(days=count - 1 - i) for i in range(count)]


def snap(value: float, grain: float) -> float:
    """Round to the metric's grain without float dust (0.1 * 34 -> 3.4, not 3.4000000000000004)."""
    decimals = max(0, -math.floor(math.log10(grain))) if grain < 1 else 0
    return round(round(value / grain) * grain, decimals)


def true_series(
    k: KpiDef, rng: random.Random, incident_days: set[date], days: Sequence[date] = tuple(demo_days())
) -> dict[date, float]:
    """The true value of a KPI for every day: linear trend, AR(1) noise, incident spikes, snapped to the grain."""
    wobble = 0.0
    series: dict[date, float] = {}
    for i, day in enumerate(days):
        trend = k.start + (k.end - k.start) * i / (len(days) - 1)
        wobble = 0.6 * wobble + rng.gauss(0, 1)
        value = trend * (1 + k.noise * wobble)
        if day in incident_days:
            value *= {"api_error_rate": 2.4, "p95_latency_ms": 1.5, "mttr_minutes": 1.2}.get(k.id, 1.0)
            if k.id == "uptime_percent":
                value -= 0.25
        if k.id == "uptime_percent":
            value = min(value, 99.99)
        series[day] = snap(min(max(value, k.grain), k.max_value), k.grain)
    return series
