"""One day (or several) end to end, pure: raw rows -> sources -> requests -> answers -> readings -> values.

The backend is called once with every request, so a concurrent or batching backend can overlap them. A day's
requests are selection's (selection.py), each asking only the metrics its sources name (plausibility.py); a
metric asked nowhere is an abstention "not asked", without a call.
Prompt injection is met in layers (see docs/reliability.md): sources the detector flags (`injection`) are set
aside by selection and never reach the backend; every reading whose cited sources the detector flags, or for
which the model reported a source as addressing it (`injection_source_ids`), is a `suspected_prompt_injection`
(grounding), so it is never chosen over an honest reading and, chosen, is quarantined by the gate. A suspect
set aside before the call holds back the value of a metric it names only when nothing was read (the abstention
is kept for review): a value read from other sources cannot have been steered by text that was never sent, so
it publishes, with the suspect (and any injected reading that lost to it) noted as
`injection_set_aside_elsewhere`.
An answer the backend could not give (`UnreadAnswer`, or none at all for an asked metric) makes an `unread`
reading, never an abstention; each day's `DayRead` counts the metrics left unread, for extract.day_status.
A calibration map, when given, turns each row's confidence into the calibrated one and keeps the extractor's
as `confidence_raw` (kpi_pipeline.calibration.apply); without one both are the raw confidence.

Each reading carries the period it describes: the answer's own when it is one a source written on the reported
day can describe, else the metric's window ending on that day (with an assumption saying so when the answer's
period was impossible). Which day a value is published for is the series rule's business, at publish time.
The frames returned carry the `metric_candidates`, `metric_values` and `llm_calls` columns except the
run id and write time, which the Dagster asset adds.

A range run extracts in chunks of `KPI_EXTRACT_CHUNK_DAYS` days (`extract_chunks`): one chunk's raw rows and
results are in memory at a time, so memory does not grow with the range. Each chunk is one `backend.extract`
call; a tail shorter than the backend's `batch_min_days` joins the chunk before it, so a range that batches
still batches every chunk.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date
from typing import Any

import pandas as pd

from kpi_pipeline.calibration.apply import calibrate_frame
from kpi_pipeline.calibration.mapfile import CalibrationMap
from kpi_pipeline.catalog import Catalog, Metric, catalog_version
from kpi_pipeline.extraction import redaction
from kpi_pipeline.extraction.grounding import INJECTION_FLAG, ground
from kpi_pipeline.extraction.periods import Period, default_period
from kpi_pipeline.extraction.plausibility import Narrowed, narrow
from kpi_pipeline.extraction.schema import (
    PROMPT_VERSION,
    ExtractionBackend,
    ExtractionRequest,
    ExtractionResult,
    MetricAnswer,
    SourceDoc,
    UnreadAnswer,
    unread_answer,
)
from kpi_pipeline.extraction.selection import DEFAULT_TOKEN_BUDGET, Selection, SuspectedInjection, select
from kpi_pipeline.extraction.source_docs import docs_docs, jira_docs, slack_docs
from kpi_pipeline.extraction.synthesis import Reading, Synthesis, synthesize
from kpi_pipeline.warehouse.tables import LLM_CALLS, METRIC_CANDIDATES, METRIC_VALUES

CANDIDATE_COLUMNS = [c for c in METRIC_CANDIDATES.column_names if c not in ("run_id", "extracted_at")]
VALUE_COLUMNS = [c for c in METRIC_VALUES.column_names if c not in ("run_id", "computed_at")]
CALL_COLUMNS = [c for c in LLM_CALLS.column_names if c not in ("run_id", "called_at")]


@dataclass(frozen=True)
class RawDay:
    """The four raw tables' rows for one day (columns as in warehouse.tables)."""

    slack_messages: pd.DataFrame = field(default_factory=pd.DataFrame)
    jira_issues: pd.DataFrame = field(default_factory=pd.DataFrame)
    jira_events: pd.DataFrame = field(default_factory=pd.DataFrame)
    docs: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class DayRead:
    """What a day's extraction read: the facts behind its extract.day_status row (status is the gate's rule)."""

    metrics: int  # catalog metrics extracted
    unread_metrics: tuple[str, ...]  # metrics whose value is unread, in catalog order
    backend: str
    model: str
    prompt_version: str
    catalog_version: str


@dataclass
class DayExtraction:
    candidates: pd.DataFrame
    values: pd.DataFrame
    calls: pd.DataFrame
    stats: dict[str, Any]
    read: DayRead


def source_docs(day: date, raw: RawDay) -> list[SourceDoc]:
    """The day's sources as the model sees them: private data redacted unless `KPI_REDACT=false`."""
    return redaction.as_configured(
        [*slack_docs(raw.slack_messages), *jira_docs(raw.jira_issues, raw.jira_events, day), *docs_docs(raw.docs)]
    )


DEFAULT_CHUNK_DAYS = 14  # the default batch_min_days: every chunk of a batching range is a batch
CHUNK_DAYS_ENV = "KPI_EXTRACT_CHUNK_DAYS"


def chunk_days_setting() -> int:
    """Days extracted (and published) together in a range run: `KPI_EXTRACT_CHUNK_DAYS`, default 14."""
    raw = os.environ.get(CHUNK_DAYS_ENV, "").strip()
    if not raw:
        return DEFAULT_CHUNK_DAYS
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{CHUNK_DAYS_ENV}={raw!r} is not a number of days: write a whole number from 1, e.g. 14")
    return int(raw)


def chunks(days: Sequence[date], size: int, min_tail: int = 0) -> list[list[date]]:
    """`days` in runs of `size`, in order; a last run shorter than `min_tail` joins the one before it."""
    if size < 1:
        raise ValueError(f"a chunk holds at least one day, not {size}")
    runs = [list(days[i : i + size]) for i in range(0, len(days), size)]
    if len(runs) > 1 and len(runs[-1]) < min_tail:
        runs[-2].extend(runs.pop())
    return runs


def chunk_plan(days: Sequence[date], size: int, backend: ExtractionBackend) -> list[list[date]]:
    """The chunks a range is extracted in: of `size` days, a tail too short to batch joining the one before."""
    return chunks(days, size, getattr(backend, "batch_min_days", None) or 0)  # anthropic batches from that many


def plan_day(
    day: date,
    docs: Sequence[SourceDoc],
    catalog: Catalog,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    screen: bool = True,
) -> tuple[Selection, Narrowed]:
    """What one day sends: the sources selection picks, and its requests narrowed to the metrics their sources
    name (plausibility.py). The estimate plans with this too, so it prices the calls a run makes."""
    selection = select(day, docs, catalog, token_budget, screen=screen)
    return selection, narrow(selection.requests, catalog)


def extract_chunks(
    days: Sequence[date],
    read: Callable[[list[date]], Mapping[date, RawDay]],
    catalog: Catalog,
    backend: ExtractionBackend,
    size: int,
    calibration: CalibrationMap | None = None,
) -> Iterator[dict[date, DayExtraction]]:
    """`extract_days` over `days` one chunk at a time: `read` loads a chunk's raw rows just before it is
    extracted, and the caller writes each chunk's results before the next is read."""
    for chunk in chunk_plan(days, size, backend):
        yield extract_days(read(chunk), catalog, backend, calibration=calibration)


def extract_day(
    day: date,
    raw: RawDay,
    catalog: Catalog,
    backend: ExtractionBackend,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    calibration: CalibrationMap | None = None,
) -> DayExtraction:
    return extract_days({day: raw}, catalog, backend, token_budget, calibration)[day]


def extract_days(
    days: Mapping[date, RawDay],
    catalog: Catalog,
    backend: ExtractionBackend,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    calibration: CalibrationMap | None = None,
    *,
    screen: bool = True,
) -> dict[date, DayExtraction]:
    """Every day's requests in one `backend.extract` call, then grounding, synthesis and calibration per day.
    `screen=False` sends the sources the detector flags as well (see `select`): tests use it to prove the later
    layers alone."""
    plans = {day: plan_day(day, source_docs(day, raw), catalog, token_budget, screen) for day, raw in days.items()}
    requests = [r for _, narrowed in plans.values() for r in narrowed.requests]
    results = backend.extract(requests, catalog) if requests else []
    if len(results) != len(requests):
        raise RuntimeError(f"backend {backend.name!r} returned {len(results)} results for {len(requests)} requests")
    by_day: dict[date, list[tuple[ExtractionRequest, ExtractionResult]]] = {day: [] for day in days}
    for request, result in zip(requests, results, strict=True):
        by_day[request.day].append((request, result))
    return {day: _day(day, *plans[day], by_day[day], catalog, backend, calibration) for day in days}


def _day(
    day: date,
    selection: Selection,
    narrowed: Narrowed,
    answered: list[tuple[ExtractionRequest, ExtractionResult]],
    catalog: Catalog,
    backend: ExtractionBackend,
    calibration: CalibrationMap | None,
) -> DayExtraction:
    readings: list[Reading] = []
    calls: list[dict[str, Any]] = []
    for index, (request, result) in enumerate(answered):
        answers = {a.metric_id: a for a in result.answers}
        for metric_id in request.metric_ids:
            answer = answers.get(metric_id) or _missing_answer(metric_id)
            readings.append(_reading(catalog.metric(metric_id), request, answer, result))
        calls.append(_call_row(index, request, result))
    for source_type, metric_ids in selection.unasked:
        why = f"no relevant {source_type} source that day; not asked"
        readings.extend(_unasked(day, source_type, metric_id, backend, why) for metric_id in metric_ids)
    for source_type, metric_ids in narrowed.unnamed:
        why = f"no {source_type} source sent that day names it; not asked"
        readings.extend(_unasked(day, source_type, metric_id, backend, why) for metric_id in metric_ids)
    values = [
        _value(
            m,
            day,
            [r for r in readings if r.metric_id == m.id],
            catalog,
            [s for s in selection.suspected_injections if m.id in s.metric_ids],
        )
        for m in catalog.metrics
    ]
    candidates = pd.DataFrame([_candidate_row(r) for r in readings], columns=CANDIDATE_COLUMNS)
    value_frame = pd.DataFrame([_value_row(v) for v in values], columns=VALUE_COLUMNS)
    candidates, value_frame = calibrate_frame(candidates, calibration), calibrate_frame(value_frame, calibration)
    call_frame = pd.DataFrame(calls, columns=CALL_COLUMNS)
    read = DayRead(
        metrics=len(values),
        unread_metrics=tuple(v.metric_id for v in values if v.status == "unread"),
        backend=backend.name,
        model=backend.model,
        prompt_version=PROMPT_VERSION,
        catalog_version=catalog_version(catalog),
    )
    return DayExtraction(candidates, value_frame, call_frame, _stats(readings, values, answered, selection), read)


def _value(
    metric: Metric, day: date, readings: list[Reading], catalog: Catalog, suspects: Sequence[SuspectedInjection]
) -> Synthesis:
    """The metric's value, with the injections around it (see the module docstring): they hold back an
    abstention, and are noted on a value read from honest sources."""
    value = synthesize(metric, day, readings, catalog.source_authority)
    steered = [r for r in readings if _injections(r.grounding_issues) and r is not value.chosen]
    if not suspects and not steered:
        return value
    if value.value is None:
        reported = [i for r in steered for i in _injections(r.grounding_issues)]
        issues = [*(_suspect_issue(s, metric.id, INJECTION_FLAG) for s in suspects), *reported]
    else:
        issues = [_suspect_issue(s, metric.id, INJECTION_ELSEWHERE) for s in suspects]
        issues += [_lost_issue(r, i) for r in steered if r.value is not None for i in _injections(r.grounding_issues)]
    return synthesize(metric, day, readings, catalog.source_authority, issues)


INJECTION_ELSEWHERE = "injection_set_aside_elsewhere"


def _suspect_issue(suspect: SuspectedInjection, metric_id: str, flag: str) -> dict[str, str]:
    rules = ", ".join(suspect.rules)
    detail = f"this {suspect.source_type} source names {metric_id} but addresses the model ({rules}); not sent"
    return {"flag": flag, "source_id": suspect.source_id, "detail": detail}


def _lost_issue(reading: Reading, issue: dict[str, str]) -> dict[str, str]:
    detail = f"the {reading.source_type} reading {reading.value:g} was set aside: {issue['detail']}"
    return {"flag": INJECTION_ELSEWHERE, "source_id": issue["source_id"], "detail": detail}


def _missing_answer(metric_id: str) -> MetricAnswer:
    return unread_answer(metric_id, "the backend gave no answer")


def _period(metric: Metric, answer: MetricAnswer, reported: date) -> tuple[Period | None, str | None]:
    """The period the answer describes, and an assumption when it is not the answer's own: an answer without a
    period (the model left it out) describes the metric's window ending on the reported day; so does one whose
    period could not have been known when its source was written, which is said out loud."""
    if answer.value is None:
        return None, None
    start, end = answer.period_start, answer.period_end
    if start is None and end is None:
        return default_period(metric, reported), None
    start, end = start or end, end or start
    assert start is not None and end is not None
    if start <= end <= reported:
        return Period(start, end), None
    fallback = default_period(metric, reported)
    why = (
        f"the answer's period {start.isoformat()}..{end.isoformat()} is not one a source written on "
        f"{reported.isoformat()} can describe; the metric's window {fallback.start.isoformat()}.."
        f"{fallback.end.isoformat()} is assumed"
    )
    return fallback, why


def _reading(metric: Metric, request: ExtractionRequest, answer: MetricAnswer, result: ExtractionResult) -> Reading:
    verdict = ground(answer, metric, request.sources)
    urls = {s.source_id: s.url for s in request.sources}
    reported = verdict.observed_at.astimezone(UTC).date() if verdict.observed_at else request.day
    period, period_assumption = _period(metric, answer, reported)
    return Reading(
        metric_id=metric.id,
        day=request.day,
        source_type=request.source_type,
        value=answer.value,
        confidence=verdict.confidence if answer.value is not None else 0.0,
        model_confidence=answer.confidence,
        evidence=tuple(  # the quote as the source has it, where grounding found it
            {"source_id": e.source_id, "quote": exact or e.quote, "url": urls.get(e.source_id)}
            for e, exact in zip(answer.evidence, verdict.located, strict=True)
        ),
        reasoning=answer.reasoning,
        assumptions=(*answer.assumptions, *([period_assumption] if period_assumption else [])),
        grounded=verdict.grounded,
        grounding_issues=verdict.issues,
        observed_at=verdict.observed_at,
        backend=result.backend,
        model=result.model,
        prompt_version=result.prompt_version,
        unread=isinstance(answer, UnreadAnswer),
        period_start=period.start if period else None,
        period_end=period.end if period else None,
    )


def _unasked(day: date, source_type: str, metric_id: str, backend: ExtractionBackend, reasoning: str) -> Reading:
    """A metric no source of this group could speak to: abstained without spending a call."""
    return Reading(
        metric_id=metric_id,
        day=day,
        source_type=source_type,
        value=None,
        confidence=0.0,
        model_confidence=0.0,
        reasoning=reasoning,
        backend=backend.name,
        model=backend.model,
        prompt_version=PROMPT_VERSION,
    )


def _candidate_row(r: Reading) -> dict[str, Any]:
    return {
        "metric_id": r.metric_id,
        "day": r.day,
        "source_type": r.source_type,
        "status": r.status,
        "value": r.value,
        "confidence": r.confidence,
        "model_confidence": r.model_confidence,
        "evidence": json.dumps(list(r.evidence)),
        "reasoning": r.reasoning,
        "assumptions": json.dumps(list(r.assumptions)),
        "grounded": r.grounded,
        "grounding_issues": json.dumps(list(r.grounding_issues)),
        "observed_at": pd.Timestamp(r.observed_at) if r.observed_at else pd.NaT,
        "backend": r.backend,
        "model": r.model,
        "prompt_version": r.prompt_version,
        "period_start": r.period_start,
        "period_end": r.period_end,
    }


def _value_row(v: Synthesis) -> dict[str, Any]:
    return {
        "metric_id": v.metric_id,
        "day": v.day,
        "status": v.status,
        "value": v.value,
        "confidence": v.confidence,
        "n_sources": v.n_sources,
        "grounded": v.grounded,
        "grounding_issues": json.dumps(list(v.grounding_issues)),
        "evidence": json.dumps(list(v.evidence)),
        "reasoning": v.reasoning,
        "conflict": json.dumps(list(v.conflict), default=str) if v.conflict else None,
        "model": v.model,
        "prompt_version": v.prompt_version,
        "period_start": v.period_start,
        "period_end": v.period_end,
        "reported_at": pd.Timestamp(v.reported_at) if v.reported_at else pd.NaT,
    }


def _call_row(index: int, request: ExtractionRequest, result: ExtractionResult) -> dict[str, Any]:
    return {
        "call_id": f"{request.day.isoformat()}:{request.source_type}:{index}:{result.request_hash[:16]}",
        "day": request.day,
        "source_type": request.source_type,
        "metric_ids": json.dumps(list(result.asked_metric_ids or request.metric_ids)),
        "backend": result.backend,
        "model": result.model,
        "prompt_version": result.prompt_version,
        "request_hash": result.request_hash,
        "input_tokens": result.usage.input_tokens,
        "cache_creation_input_tokens": result.usage.cache_creation_input_tokens,
        "cache_read_input_tokens": result.usage.cache_read_input_tokens,
        "output_tokens": result.usage.output_tokens,
        "cost_usd": result.cost_usd,
        "latency_ms": result.latency_ms,
        "response_cache_hit": result.response_cache_hit,
        "batch": result.batch,
        "stop_reason": result.stop_reason,
    }


def _stats(
    readings: Sequence[Reading],
    values: Sequence[Synthesis],
    answered: Sequence[tuple[ExtractionRequest, ExtractionResult]],
    selection: Selection,
) -> dict[str, Any]:
    results = [r for _, r in answered]
    return {
        "readings": sum(r.value is not None for r in readings),
        "abstentions": sum(v.status == "abstained" for v in values),
        "unread": sum(v.status == "unread" for v in values),
        "conflicts": sum(v.status == "conflict" for v in values),
        "ungrounded": sum(v.status == "ungrounded" for v in values),
        "suspected_injections": sum(bool(_injections(v.grounding_issues)) for v in values),
        "calls": len(results),
        "input_tokens": sum(r.usage.input_tokens for r in results),
        "output_tokens": sum(r.usage.output_tokens for r in results),
        "cache_creation_input_tokens": sum(r.usage.cache_creation_input_tokens for r in results),
        "cache_read_input_tokens": sum(r.usage.cache_read_input_tokens for r in results),
        "cost_usd": round(sum(r.cost_usd for r in results), 6),
        "sources_selected": selection.sources_selected,
        "sources_left_out": selection.sources_left_out,
    }


def _injections(issues: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    return [i for i in issues if i.get("flag") == INJECTION_FLAG]
