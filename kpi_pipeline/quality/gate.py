"""The quality gate: extract.metric_values rows -> rows to publish, rows to quarantine (with every reason).

Design: GX evaluates every rule, structural and per row, from expectations/metric_values.json, so the
suite file is the one place the rules live. Per-metric thresholds stay in the catalog: `prepare` joins
each row's `min_confidence`, `min_value` and `max_value` onto it, and the suite compares column pairs
(confidence >= min_confidence) instead of holding copies of the numbers. Rules that only concern
readings read `reading_*` columns that are null for abstentions, which GX skips.

A structural failure (schema, required nulls, unknown status, duplicate (metric_id, day)), a day without
rows, or a day whose quarantine rate exceeds the ceiling fails the gate: nothing of the run is published.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from kpi_pipeline.catalog import Catalog
from kpi_pipeline.quality.gx_suite import LoadedSuite, load_suite, suite_path, validate

GATED_TABLE = "metric_values"
INJECTION_FLAG = "suspected_prompt_injection"
DEFAULT_MAX_QUARANTINE_RATE = 0.5
MAX_QUARANTINE_RATE_ENV = "KPI_MAX_QUARANTINE_RATE"


def max_quarantine_rate() -> float:
    """The ceiling on quarantined rows / rows of a day: `KPI_MAX_QUARANTINE_RATE`, default 0.5."""
    raw = os.environ.get(MAX_QUARANTINE_RATE_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_QUARANTINE_RATE
    try:
        rate = float(raw)
    except ValueError:
        rate = math.nan
    if not 0 <= rate <= 1:
        raise ValueError(f"{MAX_QUARANTINE_RATE_ENV}={raw!r} is not a share: write a number from 0 to 1, e.g. 0.5")
    return rate


@dataclass(frozen=True)
class DayStats:
    day: date
    rows: int
    published: int
    quarantined: int
    abstained: int

    @property
    def quarantine_rate(self) -> float:
        return self.quarantined / self.rows if self.rows else 0.0


@dataclass(frozen=True)
class GateResult:
    """What the gate decided for some days of extract.metric_values."""

    publish: pd.DataFrame  # metric_values rows that passed and carry a value
    quarantine: pd.DataFrame  # metric_values rows that failed a row rule, plus `reasons` (list of str)
    structural: tuple[str, ...]  # problems that block the whole run
    rule_counts: dict[str, int]  # rows failing each rule, in the suite's order
    days: tuple[DayStats, ...]
    max_quarantine_rate: float

    @property
    def days_over_ceiling(self) -> list[DayStats]:
        return [d for d in self.days if d.quarantine_rate > self.max_quarantine_rate]

    @property
    def problems(self) -> list[str]:
        over = [
            f"quarantine rate of {d.day.isoformat()} is {d.quarantine_rate:.0%} ({d.quarantined} of {d.rows} rows), "
            f"above the ceiling {self.max_quarantine_rate:.0%} ({MAX_QUARANTINE_RATE_ENV})"
            for d in self.days_over_ceiling
        ]
        return [*self.structural, *over]

    @property
    def passed(self) -> bool:
        return not self.problems


def _column(rows: pd.DataFrame, name: str) -> pd.Series:
    """A column, or all-null when the table lacks it (the suite's schema rule then reports it)."""
    return rows[name] if name in rows.columns else pd.Series([None] * len(rows), index=rows.index, dtype=object)


def _quotes(evidence: Any) -> int:
    """How many evidence items carry a non-empty quote; unreadable evidence counts as none."""
    if not isinstance(evidence, str) or not evidence.strip():
        return 0
    try:
        items = json.loads(evidence)
    except json.JSONDecodeError:
        return 0
    if not isinstance(items, list):
        return 0
    return sum(1 for item in items if isinstance(item, dict) and str(item.get("quote") or "").strip())


def _mentions_injection(*texts: Any) -> bool:
    return any(isinstance(t, str) and INJECTION_FLAG in t for t in texts)


def prepare(rows: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """`rows` plus the columns the suite's row rules read (thresholds from the catalog, reading-only views)."""
    frame = rows.reset_index(drop=True).copy()
    limits = {m.id: (m.min_confidence, m.validation.min, m.validation.max) for m in catalog.metrics}
    metric = _column(frame, "metric_id")
    value = pd.to_numeric(_column(frame, "value"), errors="coerce")
    reading = value.notna()
    unknown = (None, None, None)
    frame["known_metric"] = pd.Series([m in limits for m in metric], dtype=object)
    for i, name in enumerate(("min_confidence", "min_value", "max_value")):
        frame[name] = pd.to_numeric(pd.Series([limits.get(m, unknown)[i] for m in metric], dtype=object))
    frame["reading_confidence"] = pd.to_numeric(_column(frame, "confidence"), errors="coerce").where(reading)
    frame["reading_quotes"] = pd.Series([_quotes(e) for e in _column(frame, "evidence")], dtype=float).where(reading)
    grounded_reading = [
        (bool(g) and s != "ungrounded") if r else None
        for g, s, r in zip(_column(frame, "grounded"), _column(frame, "status"), reading, strict=True)
    ]
    frame["reading_grounded"] = pd.Series(grounded_reading, dtype=object)
    # the grounding flag may arrive in the reasoning, the conflict sides, or a grounding_issues column
    texts = zip(
        _column(frame, "reasoning"), _column(frame, "conflict"), _column(frame, "grounding_issues"), strict=True
    )
    injection = [_mentions_injection(*t) for t in texts]
    frame["suspected_prompt_injection"] = pd.Series(injection, dtype=object)
    return frame


def _format(template: str, row: Mapping[Any, Any]) -> str:
    try:
        return template.format_map(row)
    except (KeyError, ValueError, TypeError, IndexError):
        return template


def _as_day(value: Any) -> date | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def run_gate(
    rows: pd.DataFrame,
    catalog: Catalog,
    days: Sequence[date],
    suite: LoadedSuite | None = None,
    ceiling: float | None = None,
) -> GateResult:
    """Validate the rows of `days` with the suite and route each row: publish, quarantine, or neither (abstained)."""
    suite = suite or load_suite(suite_path(GATED_TABLE))
    ceiling = max_quarantine_rate() if ceiling is None else ceiling
    frame = prepare(rows, catalog)
    frame["day"] = [_as_day(d) for d in _column(frame, "day")]
    outcomes = validate(suite, frame)

    structural: list[str] = []
    reasons: dict[int, list[str]] = {}
    records = frame.to_dict("records")
    for outcome in outcomes:
        rule = outcome.rule
        if outcome.error or (rule.kind == "structural" and not outcome.success):
            detail = f"could not run: {outcome.error}" if outcome.error else _structural_detail(outcome, frame)
            structural.append(f"{rule.rule}: {rule.reason}{detail}")
            continue
        for index in outcome.failed_rows:
            reasons.setdefault(index, []).append(f"{rule.rule}: {_format(rule.reason, records[index])}")
    present = {d for d in frame["day"] if d is not None}
    structural += [
        f"no_rows: extract.metric_values has no rows for {d.isoformat()}; materialize metric_values for that day first"
        for d in sorted(set(days) - present)
    ]

    held = frame.index.isin(list(reasons))
    has_value = pd.to_numeric(_column(frame, "value"), errors="coerce").notna()
    source_columns = list(rows.columns)
    quarantine = frame.loc[held, source_columns].copy()
    quarantine["reasons"] = [reasons[i] for i in quarantine.index]
    publish = frame.loc[~held & has_value, source_columns].copy()
    stats = tuple(
        DayStats(
            day=d,
            rows=int((frame["day"] == d).sum()),
            published=int((publish["day"] == d).sum()),
            quarantined=int((quarantine["day"] == d).sum()),
            abstained=int(((frame["day"] == d) & ~held & ~has_value).sum()),
        )
        for d in sorted(days)
    )
    return GateResult(
        publish=publish.reset_index(drop=True),
        quarantine=quarantine.reset_index(drop=True),
        structural=tuple(structural),
        rule_counts={o.rule.rule: len(o.failed_rows) or o.unexpected_count for o in outcomes},
        days=stats,
        max_quarantine_rate=ceiling,
    )


def _structural_detail(outcome: Any, frame: pd.DataFrame) -> str:
    """Which rows (or what GX observed) broke a structural rule, briefly."""
    if outcome.failed_rows:
        sample = frame.loc[list(outcome.failed_rows[:3]), ["metric_id", "day"]]
        keys = ", ".join(f"{m}@{d}" for m, d in sample.itertuples(index=False))
        return f" ({len(outcome.failed_rows)} rows, e.g. {keys})"
    if outcome.observed is not None:
        return f" (observed {outcome.observed})"
    return ""


def held_back_markdown(gate: GateResult, limit: int = 50) -> str:
    """The quarantined rows as a markdown table for check metadata."""
    if gate.quarantine.empty:
        return "_no rows held back_"
    lines = ["| metric_id | day | value | confidence | reasons |", "|---|---|---|---|---|"]
    for row in gate.quarantine.head(limit).to_dict("records"):
        cells = [row["metric_id"], row["day"], row["value"], row["confidence"], "; ".join(row["reasons"])]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if len(gate.quarantine) > limit:
        lines.append(f"\n…and {len(gate.quarantine) - limit} more rows in kpi.metric_quarantine")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:g}"
    return str(value).replace("|", "\\|").replace("\n", " ")[:300]
