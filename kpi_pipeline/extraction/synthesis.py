"""One value per metric and day from the readings of several source groups.

Sources disagree: a Slack guess, a Jira comment and a status doc may state different numbers. The
reading to trust is the grounded one from the most authoritative, most recent source; disagreement
beyond the metric's tolerance is kept visible as a conflict (both sides), and lowers confidence, while
agreement raises it. Not knowing is an answer of its own: `abstained`, not a low-confidence zero.
Not being told is not knowing either: when any source group's answer was `unread` (the call gave no usable
answer), the value is `unread` with no number, even if other groups answered, because the missing group
might have decided it; publishing then keeps the metric-day's previous version.
Under `by_period` only the readings of the period that ends latest compete; readings of earlier periods are
values of other days, set aside rather than counted as dissent.
Issues about the metric-day that no reading carries (a source set aside as a suspected prompt injection)
are added to the value's grounding issues whatever was read, so the gate holds the value, or abstention, back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from kpi_pipeline.catalog import Metric
from kpi_pipeline.extraction.schema import NOT_READ_PREFIX

STATUSES = ("ok", "conflict", "abstained", "ungrounded", "unread")
CONFLICT_WEIGHT = 0.25  # how much a fully trusted, equally authoritative dissent takes off the confidence
AGREEMENT_WEIGHT = 0.5  # how much of the remaining doubt a fully confident agreeing reading removes


@dataclass(frozen=True)
class Reading:
    """A metric's reading on one day from one source group, after grounding (a `metric_candidates` row)."""

    metric_id: str
    day: date
    source_type: str
    value: float | None
    confidence: float
    model_confidence: float
    evidence: tuple[dict[str, str | None], ...] = ()  # {source_id, quote, url}
    reasoning: str = ""
    assumptions: tuple[str, ...] = ()
    grounded: bool = False
    grounding_issues: tuple[dict[str, str], ...] = ()
    observed_at: datetime | None = None
    backend: str = "offline"
    model: str = ""
    prompt_version: str = ""
    unread: bool = False  # the backend gave no usable answer; `reasoning` says why
    period_start: date | None = None  # the period the value describes (extraction.periods); None when abstained
    period_end: date | None = None

    @property
    def status(self) -> str:
        if self.unread:
            return "unread"
        return "abstained" if self.value is None else "reading"


@dataclass(frozen=True)
class Synthesis:
    """A `metric_values` row: the value, how it was decided, and the evidence behind it."""

    metric_id: str
    day: date
    status: str  # one of STATUSES
    value: float | None
    confidence: float
    n_sources: int
    grounded: bool
    evidence: tuple[dict[str, str | None], ...]
    reasoning: str
    conflict: tuple[dict[str, object], ...] | None
    model: str
    prompt_version: str
    chosen: Reading | None = field(default=None, compare=False)
    grounding_issues: tuple[dict[str, str], ...] = ()  # the chosen reading's, then those of the day's sources
    period_start: date | None = None  # the chosen reading's period, and when its source stated it
    period_end: date | None = None
    reported_at: datetime | None = None


def disagree(a: float, b: float, tolerance: float) -> bool:
    """Relative disagreement beyond `tolerance` (0.02 = 2% of the larger magnitude)."""
    return abs(a - b) > tolerance * max(abs(a), abs(b), 1e-12)


def _why_abstained(readings: Sequence[Reading]) -> str:
    """'not enough evidence in docs, jira'."""
    read = sorted(r.source_type for r in readings)
    return f"not enough evidence in {', '.join(read) if read else 'no source group'}"


def _why_unread(readings: Sequence[Reading]) -> str:
    """'not read: slack (the model refused: ...); read but not decided without it: docs 3.2'."""
    unread = [r for r in readings if r.unread]
    parts = [f"{NOT_READ_PREFIX}{r.source_type} ({r.reasoning.removeprefix(NOT_READ_PREFIX)})" for r in unread]
    read = [f"{r.source_type} {r.value:g}" for r in readings if not r.unread and r.value is not None]
    if read:
        parts.append(f"read but not decided without it: {', '.join(read)}")
    return "; ".join(parts)


def synthesize(
    metric: Metric,
    day: date,
    readings: Sequence[Reading],
    authority: Mapping[str, float],
    day_issues: Sequence[dict[str, str]] = (),
) -> Synthesis:
    """Choose, flag and score one value from `readings` (one per source group); `day_issues` (grounding issues
    about sources that were not read, such as suspected prompt injections) go on the value whatever it is."""
    with_value, earlier = _latest_period(metric, [r for r in readings if r.value is not None])
    model = readings[0].model if readings else ""
    prompt_version = readings[0].prompt_version if readings else ""
    set_aside = _set_aside(day_issues)
    unread = any(r.unread for r in readings)
    if unread or not with_value:
        return Synthesis(
            metric.id,
            day,
            "unread" if unread else "abstained",
            None,
            0.0,
            0,
            False,
            (),
            (_why_unread(readings) if unread else _why_abstained(readings)) + set_aside,
            None,
            model,
            prompt_version,
            grounding_issues=tuple(day_issues),
        )

    def rank(r: Reading) -> tuple[int, float, float, float]:
        observed = r.observed_at.timestamp() if r.observed_at else 0.0
        return (int(r.grounded), authority.get(r.source_type, 0.5), observed, r.confidence)

    ranked = sorted(with_value, key=rank, reverse=True)
    chosen = ranked[0]
    assert chosen.value is not None
    peers = [r for r in ranked[1:] if r.grounded or not chosen.grounded]
    dissent = [r for r in peers if r.value is not None and disagree(r.value, chosen.value, metric.tolerance)]
    agree = [r for r in peers if r not in dissent]
    confidence = chosen.confidence
    for r in agree:
        confidence += (1 - confidence) * AGREEMENT_WEIGHT * r.confidence
    chosen_authority = max(authority.get(chosen.source_type, 0.5), 1e-6)
    for r in dissent:
        weight = min(1.0, authority.get(r.source_type, 0.5) / chosen_authority)
        confidence *= 1 - CONFLICT_WEIGHT * r.confidence * weight
    if not chosen.grounded:
        status = "ungrounded"
    elif dissent:
        status = "conflict"
    else:
        status = "ok"
    reasoning = f"{status}: {chosen.source_type} reading {chosen.value:g} chosen (authority, then recency)"
    if agree:
        reasoning += f"; agreed by {', '.join(r.source_type for r in agree)}"
    if dissent:
        reasoning += "; disagreed by " + ", ".join(f"{r.source_type} ({r.value:g})" for r in dissent)
    if earlier:
        reasoning += "; by_period, readings of earlier periods set aside: " + ", ".join(
            f"{r.source_type} {r.value:g} ({r.period_end.isoformat() if r.period_end else '?'})" for r in earlier
        )
    reasoning += set_aside
    if chosen.reasoning:
        reasoning += f". {chosen.reasoning}"
    conflict = tuple(_side(r) for r in [chosen, *dissent]) if dissent else None
    evidence = tuple({"source_type": r.source_type, **e} for r in [chosen, *agree] for e in r.evidence)
    return Synthesis(
        metric_id=metric.id,
        day=day,
        status=status,
        value=chosen.value,
        confidence=round(min(0.99, max(0.0, confidence)), 4),
        n_sources=len(with_value),
        grounded=chosen.grounded,
        evidence=evidence,
        reasoning=reasoning,
        conflict=conflict,
        model=chosen.model,
        prompt_version=chosen.prompt_version,
        chosen=chosen,
        grounding_issues=(*chosen.grounding_issues, *day_issues),
        period_start=chosen.period_start,
        period_end=chosen.period_end,
        reported_at=chosen.observed_at,
    )


def _latest_period(metric: Metric, with_value: list[Reading]) -> tuple[list[Reading], list[Reading]]:
    """Under `by_period` readings of different periods are values of different days, not a disagreement: the
    readings of the period that ends latest compete for the value, the others are set aside (and kept in
    extract.metric_candidates). Under `as_reported` every reading competes."""
    ends = {r.period_end for r in with_value if r.period_end is not None}
    if metric.series_rule != "by_period" or len(ends) < 2:
        return with_value, []
    latest = max(ends)
    keep = [r for r in with_value if r.period_end in (latest, None)]
    return keep, [r for r in with_value if r not in keep]


def _set_aside(day_issues: Sequence[dict[str, str]]) -> str:
    """The sources behind `day_issues`, in words for the reasoning: "; set aside slack:C1:9 (suspected ...)"."""
    parts = [f"{i.get('source_id') or 'a source'} ({i.get('flag', 'issue').replace('_', ' ')})" for i in day_issues]
    return f"; set aside {', '.join(dict.fromkeys(parts))}" if parts else ""


def _side(r: Reading) -> dict[str, object]:
    return {
        "source_type": r.source_type,
        "value": r.value,
        "confidence": r.confidence,
        "grounded": r.grounded,
        "evidence": list(r.evidence),
    }
