"""Evidence grounding: is an answer backed by the text it cites, and does that text speak of the metric?

A model (or the offline extractor) may paraphrase, misquote, cite a source it was never given, take a number
from a sentence about another metric ("Uptime is 99.8% today" as churn), or from text written to manipulate
it. Each of those is flagged, and an ungrounded answer keeps at most `UNGROUNDED_CONFIDENCE_CAP` confidence,
so the gate holds it back. The checks, for an answer with a value:

1. every quote occurs in the source it cites (as `normalize_text` compares them); the located span of the
   source, not the model's copy, is what the rest of the checks read and what is published as evidence;
2. unless the metric is `derived`, a numeral in a located quote states the value (units converted with
   `numbers.convert`; another currency never converts); "three percent" may be read but grounds nothing;
3. the quote that states the value, or the sentence it sits in (for a table row: the row, its column headers
   and caption), names the metric (`matching.names_metric`: an alias, the id, or the words of the
   description), or comes from a source the catalog ties to the metric by a narrowed selector
   (`slack:#channel`, `jira:PROJECT`, `docs:glob`). Another quote of the answer that names the metric and
   states a number in its unit also counts: a correction ("it was 15, not 18") cites the statement it
   corrects. A `derived` metric's quotes are its inputs: they need not name it;
4. no cited source reads like an order to the model (`injection.find_injections`), and the model reported no
   source as one (`injection_source_ids`): either is a `suspected_prompt_injection` naming the source and the
   rule, kept even on an abstention, so the gate quarantines the reading whatever its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from kpi_pipeline.catalog import Metric
from kpi_pipeline.extraction.injection import find_injections
from kpi_pipeline.extraction.matching import names_metric
from kpi_pipeline.extraction.normalize import locate
from kpi_pipeline.extraction.numbers import convert, find_quantities, metric_unit, values_match
from kpi_pipeline.extraction.schema import MetricAnswer, SourceDoc
from kpi_pipeline.extraction.selection import selector_matches
from kpi_pipeline.extraction.tables import table_context

UNGROUNDED_CONFIDENCE_CAP = 0.3
INJECTION_FLAG = "suspected_prompt_injection"
FLAGS = (
    "no_evidence",
    "unknown_source",
    "quote_not_in_source",
    "number_not_in_quote",
    "unit_mismatch",
    "metric_not_named",
    INJECTION_FLAG,
)
_SENTENCE_END = re.compile(r"[.!?;](?=\s)|\n")


def quote_in_source(quote: str, source_text: str) -> bool:
    return locate(quote, source_text) is not None


@dataclass(frozen=True)
class Grounding:
    """The verdict on one answer: grounded or not, why, and the confidence it may keep."""

    grounded: bool
    issues: tuple[dict[str, str], ...]  # {"flag": one of FLAGS, "source_id": ..., "detail": ...}
    confidence: float
    observed_at: datetime | None  # time of the newest cited source
    # per evidence item, the exact text of the source its quote was found at (None: not found)
    located: tuple[str | None, ...] = ()

    @property
    def flags(self) -> set[str]:
        return {i["flag"] for i in self.issues}

    @property
    def injection(self) -> bool:
        return INJECTION_FLAG in self.flags


def ground(answer: MetricAnswer, metric: Metric, sources: Sequence[SourceDoc]) -> Grounding:
    """Check `answer` against the sources it was asked over. Abstentions have nothing to ground."""
    by_id = {s.source_id: s for s in sources}
    cited = [by_id[e.source_id] for e in answer.evidence if e.source_id in by_id]
    observed_at = max((s.observed_at for s in cited), default=None)
    located: list[_Located | None] = []
    issues: list[dict[str, str]] = []
    for ev in answer.evidence:
        source = by_id.get(ev.source_id)
        span = locate(ev.quote, source.text) if source is not None else None
        located.append(_Located(source, *span) if source is not None and span is not None else None)
        if source is None:
            issues.append(_issue("unknown_source", ev.source_id, "cited a source that was not provided"))
        elif span is None:
            issues.append(_issue("quote_not_in_source", ev.source_id, f"quote not found: {ev.quote[:120]!r}"))
    issues += injection_issues(answer, by_id)
    exact = tuple(loc.text if loc else None for loc in located)
    if answer.value is None:  # nothing to ground, but what the model reported seeing stays on the reading
        return Grounding(
            False, tuple(i for i in issues if i["flag"] == INJECTION_FLAG), answer.confidence, observed_at, exact
        )
    if not answer.evidence:
        issues.append(_issue("no_evidence", "", "the answer gives a value but quotes nothing"))
    found = [loc for loc in located if loc is not None]
    quotes = [loc.text if loc else ev.quote for loc, ev in zip(located, answer.evidence, strict=True)]
    if answer.evidence and not metric.derived:
        problem = _value_problem(answer.value, metric, quotes)
        if problem:
            issues.append(_issue(problem[0], "", problem[1]))
    stating = [loc for loc in found if _states(answer.value, metric, loc.text)] if not metric.derived else []
    corrected = [loc for loc in located if loc is not None and loc not in stating and _states_any(metric, loc.text)]
    if stating and not any(_speaks_of(metric, loc) for loc in [*stating, *corrected]):
        source_id = stating[0].source.source_id
        detail = f"the quote states a number but does not name {metric.id} (no alias, id or description words)"
        issues.append(_issue("metric_not_named", source_id, detail))
    grounded = not issues
    confidence = answer.confidence if grounded else min(answer.confidence, UNGROUNDED_CONFIDENCE_CAP)
    return Grounding(grounded, tuple(issues), confidence, observed_at, exact)


@dataclass(frozen=True)
class _Located:
    source: SourceDoc
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.source.text[self.start : self.end]


def _speaks_of(metric: Metric, loc: _Located) -> bool:
    """The quote, its sentence or its table row (with headers and caption) names the metric, or the catalog
    ties the source to it by a narrowed selector."""
    if any(s.pattern is not None and selector_matches(s, loc.source) for s in metric.sources):
        return True
    text = loc.source.text
    context = table_context(text, loc.start, loc.end) or ""
    return any(names_metric(metric, t) for t in (loc.text, _sentence(text, loc.start, loc.end), context) if t)


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence (or line) around text[start:end]."""
    left = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    right = next((m.start() + 1 for m in _SENTENCE_END.finditer(text, end)), len(text))
    return text[left:right]


def _states(value: float, metric: Metric, quote: str) -> bool:
    unit = metric_unit(metric.unit)
    return any((c := convert(q, unit)) is not None and values_match(c.value, value) for q in find_quantities(quote))


def _states_any(metric: Metric, quote: str) -> bool:
    unit = metric_unit(metric.unit)
    return any(convert(q, unit) is not None for q in find_quantities(quote))


def _value_problem(value: float, metric: Metric, quotes: Sequence[str]) -> tuple[str, str] | None:
    """Does a numeral in the quotes state `value`? A number written only in words does not ground it."""
    unit = metric_unit(metric.unit)
    found = [q for quote in quotes for q in find_quantities(quote, words=True)]
    quantities = [q for q in found if not q.in_words]
    converted = [c for c in (convert(q, unit) for q in quantities) if c is not None]
    if any(values_match(c.value, value) for c in converted):
        return None
    in_words = [q for q in found if q.in_words and (c := convert(q, unit)) is not None and values_match(c.value, value)]
    if in_words:
        return "number_not_in_quote", f"{value:g} is written only in words ({in_words[0].text!r}); no numeral states it"
    if not quantities:
        return "number_not_in_quote", f"no number in the quotes; the value {value:g} is not stated"
    if not converted:
        units = sorted({q.unit or "no unit" for q in quantities})
        return "unit_mismatch", f"quoted numbers are in {', '.join(units)}, not {metric.unit}"
    return "number_not_in_quote", f"{value:g} {metric.unit} is not among the quoted numbers"


def injection_issues(answer: MetricAnswer, sources: Mapping[str, SourceDoc]) -> list[dict[str, str]]:
    """A suspected injection per source the answer cites whose text the detector flags (naming the rules
    that fired), and per source the model itself reported as addressing it or dictating a value."""
    issues: list[dict[str, str]] = []
    for source_id in dict.fromkeys(e.source_id for e in answer.evidence):
        source = sources.get(source_id)
        quotes = [e.quote for e in answer.evidence if e.source_id == source_id]
        texts = [source.text] if source is not None else quotes
        hits = [h for text in texts for h in find_injections(text)]
        if hits:
            detail = "the cited text addresses the model: " + "; ".join(h.describe() for h in hits)
            issues.append(_issue(INJECTION_FLAG, source_id, detail))
    for source_id in dict.fromkeys(answer.injection_source_ids):
        detail = "the model reported this source as addressing it or dictating a value (model_reported)"
        if source_id not in sources:
            detail += "; it is not among the sources it was given"
        issues.append(_issue(INJECTION_FLAG, source_id, detail))
    return issues


def _issue(flag: str, source_id: str, detail: str) -> dict[str, str]:
    return {"flag": flag, "source_id": source_id, "detail": detail}
