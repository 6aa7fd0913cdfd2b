"""The quality gate: extract.metric_values rows -> rows to publish, rows to quarantine (with every reason).

Design: GX evaluates every rule, structural and per row, from expectations/metric_values.json, so the
suite file is the one place the rules live. Per-metric thresholds stay in the catalog: `prepare` joins
each row's `min_confidence`, `min_value` and `max_value` onto it, and the suite compares column pairs
(confidence >= min_confidence) instead of holding copies of the numbers. Rules that only concern
readings read `reading_*` columns that are null for abstentions, which GX skips.

The gate decides per day. Problems that make the whole range untrustworthy block it: nothing of the run is
published (`blocked`): the table's schema, duplicate (metric_id, day) rows, rows without a day, a rule that
could not run. A day is held back (`held_days`, with the reason) when a structural problem is confined to its
rows (a required null, an unknown status), when it has no rows, when its quarantine rate exceeds
`KPI_MAX_QUARANTINE_RATE`, or when more than `KPI_MAX_UNREAD_RATE` of its metrics were unread (the backend
gave no usable answer): its previously published facts stay, and its rows with a value go to quarantine for
review (all of them, the passing ones with the reason `day_held`). Other days publish. `unread` rows are
neither published nor quarantined: the metric-day keeps its previous version.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import pandas as pd

from kpi_pipeline.catalog import Catalog
from kpi_pipeline.quality.gx_suite import LoadedSuite, load_suite, suite_path, validate

GATED_TABLE = "metric_values"
INJECTION_FLAG = "suspected_prompt_injection"
DEFAULT_MAX_QUARANTINE_RATE = 0.5
MAX_QUARANTINE_RATE_ENV = "KPI_MAX_QUARANTINE_RATE"
DEFAULT_MAX_UNREAD_RATE = 0.2
MAX_UNREAD_RATE_ENV = "KPI_MAX_UNREAD_RATE"
UNREAD = "unread"
# structural rules whose failure no single day explains: the whole range is untrustworthy
RANGE_WIDE_RULES = frozenset({"schema", "one_row_per_metric_day", "required_day"})


def _share_setting(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        rate = float(raw)
    except ValueError:
        rate = math.nan
    if not 0 <= rate <= 1:
        raise ValueError(f"{name}={raw!r} is not a share: write a number from 0 to 1, e.g. {default:g}")
    return rate


def max_quarantine_rate() -> float:
    """The ceiling on quarantined rows / rows of a day: `KPI_MAX_QUARANTINE_RATE`, default 0.5."""
    return _share_setting(MAX_QUARANTINE_RATE_ENV, DEFAULT_MAX_QUARANTINE_RATE)


def max_unread_rate() -> float:
    """The ceiling on unread metrics / metrics of a day: `KPI_MAX_UNREAD_RATE`, default 0.2."""
    return _share_setting(MAX_UNREAD_RATE_ENV, DEFAULT_MAX_UNREAD_RATE)


def read_status(metrics: int, unread: int, ceiling: float) -> str:
    """extract.day_status.status: complete (all read), partial (some unread), failed (above the ceiling)."""
    if not unread:
        return "complete"
    return "failed" if unread / max(metrics, 1) > ceiling else "partial"


@dataclass(frozen=True)
class DayStats:
    day: date
    rows: int
    published: int
    quarantined: int  # rows written to kpi.metric_quarantine for the day
    abstained: int
    unread: int = 0
    unread_metrics: tuple[str, ...] = ()  # their previous published version stays
    failing: int = 0  # rows failing a row rule: the quarantine rate's numerator
    problems: tuple[str, ...] = ()  # why the day is held back; empty: it publishes
    failed: bool = False  # more than the ceiling of its metrics unread: nothing of the day is written

    @property
    def held(self) -> str:
        """Why the day is held back, in one line; empty when it publishes."""
        return "; ".join(self.problems)

    @property
    def quarantine_rate(self) -> float:
        return self.failing / self.rows if self.rows else 0.0


@dataclass(frozen=True)
class GateResult:
    """What the gate decided for some days of extract.metric_values."""

    publish: pd.DataFrame  # metric_values rows that passed and carry a value, on days that publish
    quarantine: pd.DataFrame  # rows that failed a row rule, or carry a value on a held day, plus `reasons`
    structural: tuple[str, ...]  # problems that block the whole range
    rule_counts: dict[str, int]  # rows failing each rule, in the suite's order
    days: tuple[DayStats, ...]
    max_quarantine_rate: float
    max_unread_rate: float = DEFAULT_MAX_UNREAD_RATE

    @property
    def days_over_ceiling(self) -> list[DayStats]:
        return [d for d in self.days if d.quarantine_rate > self.max_quarantine_rate]

    @property
    def held_days(self) -> dict[date, str]:
        """The days held back, each with its reasons: their published facts stay as they are."""
        return {d.day: d.held for d in self.days if d.held}

    @property
    def blocked(self) -> bool:
        """A problem no single day explains: nothing of the range may be published."""
        return bool(self.structural)

    @property
    def problems(self) -> list[str]:
        return [*self.structural, *(p for d in self.days for p in d.problems)]

    @property
    def passed(self) -> bool:
        """Every day of the range publishes."""
        return not self.problems


def _day_problems(
    d: date, confined: Sequence[str], rows: int, failing: int, unread: int, ceiling: float, unread_ceiling: float
) -> list[str]:
    """Why day `d` is held back (empty: it publishes)."""
    problems = list(confined)
    if read_status(rows, unread, unread_ceiling) == "failed":
        problems.append(
            f"extraction of {d.isoformat()} failed: {unread} of {rows} metrics unread, above the ceiling "
            f"{unread_ceiling:.0%} ({MAX_UNREAD_RATE_ENV}); rerun the day"
        )
    rate = failing / rows if rows else 0.0
    if rate > ceiling:
        problems.append(
            f"quarantine rate of {d.isoformat()} is {rate:.0%} ({failing} of {rows} rows), above the ceiling "
            f"{ceiling:.0%} ({MAX_QUARANTINE_RATE_ENV})"
        )
    return problems


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


def _injection_detail(grounding_issues: Any, limit: int = 400) -> str:
    """Which sources were suspected and which rule fired, from the grounding issues, for the reason text."""
    try:
        issues = json.loads(grounding_issues) if isinstance(grounding_issues, str) else []
    except json.JSONDecodeError:
        issues = []
    named = (
        [
            f"{i.get('source_id') or 'a source'}: {i.get('detail') or 'no detail'}"
            for i in issues
            if isinstance(i, dict) and i.get("flag") == INJECTION_FLAG
        ]
        if isinstance(issues, list)
        else []
    )
    text = "; ".join(named) or "see the reasoning"
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    frame["injection_detail"] = pd.Series(
        [_injection_detail(g) for g in _column(frame, "grounding_issues")], dtype=object
    )
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
    unread_ceiling: float | None = None,
) -> GateResult:
    """Validate the rows of `days` with the suite and route each row: publish, quarantine, or neither
    (abstained or unread); a held day's rows with a value all go to quarantine."""
    suite = suite or load_suite(suite_path(GATED_TABLE))
    ceiling = max_quarantine_rate() if ceiling is None else ceiling
    unread_ceiling = max_unread_rate() if unread_ceiling is None else unread_ceiling
    frame = prepare(rows, catalog)
    row_days = [_as_day(d) for d in _column(frame, "day")]
    frame["day"] = row_days
    outcomes = validate(suite, frame)

    structural: list[str] = []
    confined: dict[date, list[str]] = {}
    reasons: dict[int, list[str]] = {}
    records = frame.to_dict("records")
    for outcome in outcomes:
        rule = outcome.rule
        if outcome.error or (rule.kind == "structural" and not outcome.success):
            detail = f"could not run: {outcome.error}" if outcome.error else _structural_detail(outcome, frame)
            problem = f"{rule.rule}: {rule.reason}{detail}"
            bad_days = {row_days[i] for i in outcome.failed_rows}
            if outcome.error or rule.rule in RANGE_WIDE_RULES or not bad_days or None in bad_days:
                structural.append(problem)
            else:
                for d in sorted(d for d in bad_days if d is not None):
                    confined.setdefault(d, []).append(problem)
            continue
        for index in outcome.failed_rows:
            reasons.setdefault(index, []).append(f"{rule.rule}: {_format(rule.reason, records[index])}")
    present = {d for d in frame["day"] if d is not None}
    for d in sorted(set(days) - present):
        confined.setdefault(d, []).append(
            f"no_rows: extract.metric_values has no rows for {d.isoformat()}; materialize metric_values for that "
            "day first"
        )

    failing = frame.index.isin(list(reasons))
    has_value = pd.to_numeric(_column(frame, "value"), errors="coerce").notna()
    unread = (_column(frame, "status") == UNREAD).to_numpy()
    held: dict[date, list[str]] = {}
    failed: set[date] = set()
    for d in days:
        on_day = (frame["day"] == d).to_numpy()
        rows_of_day, unread_of_day = int(on_day.sum()), int((on_day & unread).sum())
        failing_of_day = int((on_day & failing).sum())
        problems = _day_problems(
            d, confined.get(d, ()), rows_of_day, failing_of_day, unread_of_day, ceiling, unread_ceiling
        )
        if problems:
            held[d] = problems
        if read_status(rows_of_day, unread_of_day, unread_ceiling) == "failed":
            failed.add(d)
    on_held = frame["day"].isin(list(held)).to_numpy()
    on_failed = frame["day"].isin(list(failed)).to_numpy()
    for index in frame.index[on_held & ~failing & has_value]:
        held_day = row_days[index]
        assert held_day is not None  # on a held day
        reasons[index] = [f"day_held: {'; '.join(held[held_day])}"]
    to_quarantine = frame.index.isin(list(reasons)) & ~on_failed
    source_columns = list(rows.columns)
    quarantine = frame.loc[to_quarantine, source_columns].copy()
    quarantine["reasons"] = [reasons[i] for i in quarantine.index]
    publish = frame.loc[~on_held & ~failing & has_value, source_columns].copy()
    masks = (failing, has_value.to_numpy(), unread)
    stats = tuple(_day_stats(d, frame, publish, quarantine, masks, held, failed) for d in sorted(days))
    return GateResult(
        publish=publish.reset_index(drop=True),
        quarantine=quarantine.reset_index(drop=True),
        structural=tuple(structural),
        rule_counts={o.rule.rule: len(o.failed_rows) or o.unexpected_count for o in outcomes},
        days=stats,
        max_quarantine_rate=ceiling,
        max_unread_rate=unread_ceiling,
    )


def merged(chunks: Iterable[GateResult]) -> GateResult:
    """The gates of a range's chunks of days as one, for the range's check: each structural problem once, rule
    counts summed, every day's figures and quarantined row. `publish` keeps no rows (the days' counts say what
    publishes): read chunk by chunk, the result does not grow with the range's published rows."""
    parts = [replace(g, publish=g.publish.iloc[:0]) for g in chunks]
    held = [p.quarantine for p in parts if not p.quarantine.empty]  # an empty frame's dtypes would win
    counts: dict[str, int] = {}
    for part in parts:
        for rule, n in part.rule_counts.items():
            counts[rule] = counts.get(rule, 0) + n
    return GateResult(
        publish=parts[0].publish,
        quarantine=pd.concat(held or [parts[0].quarantine], ignore_index=True),
        structural=tuple(dict.fromkeys(s for p in parts for s in p.structural)),
        rule_counts=counts,
        days=tuple(d for p in parts for d in p.days),
        max_quarantine_rate=parts[0].max_quarantine_rate,
        max_unread_rate=parts[0].max_unread_rate,
    )


def _day_stats(
    d: date,
    frame: pd.DataFrame,
    publish: pd.DataFrame,
    quarantine: pd.DataFrame,
    masks: tuple[Any, Any, Any],
    held: Mapping[date, list[str]],
    failed: set[date],
) -> DayStats:
    failing, has_value, unread = masks  # boolean arrays over frame's rows
    on_day = (frame["day"] == d).to_numpy()
    return DayStats(
        day=d,
        rows=int(on_day.sum()),
        published=int((publish["day"] == d).sum()),
        quarantined=int((quarantine["day"] == d).sum()),
        abstained=int((on_day & ~failing & ~has_value & ~unread).sum()),
        unread=int((on_day & unread).sum()),
        unread_metrics=tuple(sorted(str(m) for m in frame.loc[on_day & unread, "metric_id"])),
        failing=int((on_day & failing).sum()),
        problems=tuple(held.get(d, ())),
        failed=d in failed,
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


def days_markdown(gate: GateResult, limit: int = 31) -> str:
    """One row per day that did not simply publish (held back, or with unread metrics), for check metadata."""
    return days_table(gate.days, limit)


def days_table(days: Sequence[DayStats], limit: int = 31) -> str:
    """`days_markdown` for days gated in several chunks."""
    notable = [d for d in days if d.held or d.unread]
    if not notable:
        return f"_all {len(days)} day(s) publish_"
    lines = ["| day | outcome | published | quarantined | unread | reason |", "|---|---|---|---|---|---|"]
    for d in notable[:limit]:
        outcome = "held" if d.held else "partial"
        why = d.held or f"kept the previous version of {', '.join(d.unread_metrics)} (unread)"
        cells = [d.day.isoformat(), outcome, d.published, d.quarantined, d.unread, why]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if len(notable) > limit:
        lines.append(f"\n…and {len(notable) - limit} more days in extract.day_status")
    return "\n".join(lines)


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
