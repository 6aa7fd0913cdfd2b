"""The offline extractor: deterministic, no network, good enough to run the whole pipeline for real.

It reads like a careful analyst with a highlighter: find the sentences that name the metric, take the
number that belongs to it (not a target, not the old value, not another metric's), let corrections and
newer messages win, quote the sentence, and say how sure it is. It never takes a number from text that
addresses the model. A number written in words ("three percent") is read only when no sentence states the
metric in digits, with less confidence and the assumption said out loud; grounding then flags it.
The local Anthropic server answers with `extract_answers`, so both backends share one notion of a right answer.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from kpi_pipeline.catalog import Catalog, Metric
from kpi_pipeline.extraction.grounding import looks_like_instruction
from kpi_pipeline.extraction.numbers import (
    Conversion,
    MetricUnit,
    Quantity,
    convert,
    find_quantities,
    metric_unit,
    values_match,
)
from kpi_pipeline.extraction.schema import (
    PROMPT_VERSION,
    Evidence,
    ExtractionRequest,
    ExtractionResult,
    LlmUsage,
    MetricAnswer,
    SourceDoc,
)

MODEL = "offline-extractor-v1"
MAX_QUOTE_CHARS = 300

_STOPWORD_TEXT = (
    "a an the of in on at to for from by with and or per as is are was be this that our their its we it share "
    "number count rate total average mean value percent percentage time day days week daily weekly production "
    "requests measured"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_UNIT_WORD_TEXT = "ms s sec pct percent usd hours hrs h min minutes days count ratio pp"
_UNIT_WORDS = frozenset(_UNIT_WORD_TEXT.split())
_HEDGES = re.compile(
    r"\b(?:maybe|might|perhaps|possibly|probably|around|about|roughly|approx(?:imately)?|ish|estimated?|"
    r"i think|i guess|not sure|unsure|unconfirmed|preliminary|rough(?:ly)?|ballpark|iirc|if i recall|"
    r"seems?|appears?|guessing|unverified|tbc|tbd)\b|~|\?|≈",
    re.IGNORECASE,
)
_CORRECTION = re.compile(
    r"\b(?:correction|corrected|correcting|erratum|typo|misread|mis-?reported|should have said|"
    r"actually|to be precise|i meant|sorry,? (?:it|that)|update:)\b",
    re.IGNORECASE,
)
_NEGATED = re.compile(r"\b(?:not|isn't|wasn't|instead of|rather than)\s*$", re.IGNORECASE)
_TARGET = re.compile(
    r"\b(?:target(?:ing|ed|s)?|goal|aim(?:ing)?|objective|okr|kr|slo|sla|budget|threshold|plan(?:ned)?|"
    r"expected|expect|forecast|projected|baseline|want(?:ed)? (?:it )?(?:to be|under|below|above)|"
    r"should be|needs? to be|limit|ceiling|floor|by (?:the )?end of)\b[^.;]{0,25}$",
    re.IGNORECASE,
)
_PREVIOUS = re.compile(
    r"\b(?:from|was|were|previously|prior|before|last (?:week|month|quarter|time)|yesterday|earlier|"
    r"used to be|had been|down from|up from|compared (?:to|with)|vs\.?|versus)\s*(?:\S+\s*){0,2}$",
    re.IGNORECASE,
)
_PREVIOUS_AFTER = re.compile(
    r"^\s*\)?\s*(?:last (?:week|month|quarter|time)|yesterday|previously|before|earlier|ago|prior)\b",
    re.IGNORECASE,
)
_TARGET_AFTER = re.compile(r"^\s*\)?\s*(?:target|goal|slo|sla|budget|is the (?:target|goal))\b", re.IGNORECASE)
_WINDOW = re.compile(r"\b(?:last|past|trailing|rolling|previous|next|every|per|within|over)\s*$", re.IGNORECASE)
_DELTA = re.compile(r"\b(?:by|of|delta|change|increase|decrease|drop|rise|improvement)\s*[+-]?\s*$", re.IGNORECASE)
_DELTA_AFTER = re.compile(
    r"^\s*(?:increase|decrease|drop|rise|jump|improvement|better|worse|higher|lower|more|less|fewer|"
    r"up|down|change|delta|wow|dod|mom|qoq|yoy)\b",
    re.IGNORECASE,
)
_CURRENT = re.compile(
    r"(?:\b(?:to|is|are|at|now|hit|hits|reached|reaches|sits?|stands?|currently|today|landed|came in|"
    r"measured|of)\b|[=:])\s*$",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"\n+|(?<=[.!?;])\s+(?=\S)|\s+\|\s+|(?<=\S)\s+[-•·]\s+(?=\S)")
_WORD = re.compile(r"[A-Za-z0-9]+")
_OF_AFTER = re.compile(r"^\s*of\b", re.IGNORECASE)
IN_WORDS_ASSUMPTION = "number written in words"
IN_WORDS_PENALTY = 0.3


@dataclass(frozen=True)
class _Sentence:
    source: SourceDoc
    order: int  # position of the source in the request, then of the sentence in the source
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.source.text[self.start : self.end]


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    strong: bool


@dataclass(frozen=True)
class _Reading:
    sentence: _Sentence
    quantity: Quantity
    conversion: Conversion
    distance: int  # words between the mention and the number
    strong: bool
    current_cue: bool
    correction: bool
    hedged: bool

    @property
    def value(self) -> float:
        return self.conversion.value


def extract_answers(request: ExtractionRequest, catalog: Catalog) -> list[MetricAnswer]:
    """One answer per metric of the request, from the request's sources only."""
    sentences = [s for i, doc in enumerate(_by_time(request.sources)) for s in _sentences(doc, i)]
    answers = []
    for metric_id in request.metric_ids:
        try:
            metric = catalog.metric(metric_id)
        except KeyError:
            answers.append(_abstain(metric_id, f"{metric_id!r} is not in the catalog"))
            continue
        answers.append(_answer(metric, sentences, catalog))
    return answers


def _by_time(sources: Sequence[SourceDoc]) -> list[SourceDoc]:
    return sorted(sources, key=lambda s: s.observed_at)


def _sentences(doc: SourceDoc, doc_index: int) -> list[_Sentence]:
    result: list[_Sentence] = []
    start = 0
    for boundary in [*_SENTENCE_END.finditer(doc.text), None]:
        end = boundary.start() if boundary else len(doc.text)
        piece = doc.text[start:end]
        stripped_start = start + len(piece) - len(piece.lstrip())
        stripped_end = start + len(piece.rstrip())
        if stripped_end > stripped_start:
            result.append(_Sentence(doc, doc_index * 10_000 + len(result), stripped_start, stripped_end))
        if boundary:
            start = boundary.end()
    return result


@lru_cache(maxsize=512)
def _patterns(metric: Metric) -> tuple[tuple[re.Pattern[str], ...], frozenset[str]]:
    """Strong mention patterns (aliases, the id as words) and weak keywords (from the description)."""
    phrases = [a for a in metric.aliases if a.strip()]
    id_words = [w for w in metric.id.split("_") if w]
    content = [w for w in id_words if w not in _UNIT_WORDS]
    phrases.append(" ".join(id_words))
    if len(content) >= 2 and content != id_words:
        phrases.append(" ".join(content))
    patterns = tuple(_phrase_pattern(p) for p in dict.fromkeys(phrases))
    keywords = frozenset(
        w.lower()[:6] for w in _WORD.findall(metric.description) if len(w) > 3 and w.lower() not in _STOPWORDS
    )
    return patterns, keywords


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    words = _WORD.findall(phrase)
    body = r"[\s_\-/]*".join(re.escape(w) for w in words)
    return re.compile(rf"(?<![A-Za-z0-9]){body}(?:e?s)?(?![A-Za-z0-9])", re.IGNORECASE)


def metric_mentions(metric: Metric, text: str) -> list[Mention]:
    """Where `text` names the metric: aliases or its id as words (strong), else description keywords (weak)."""
    return list(_mentions_cached(metric, text))


@lru_cache(maxsize=65_536)
def _mentions_cached(metric: Metric, text: str) -> tuple[Mention, ...]:
    patterns, keywords = _patterns(metric)
    found = tuple(Mention(m.start(), m.end(), True) for p in patterns for m in p.finditer(text))
    if found:
        return found
    hits = [(start, end, key) for start, end, key in _word_keys(text) if key in keywords]
    if hits and len({key for _, _, key in hits}) >= min(2, len(keywords)):
        return tuple(Mention(start, end, False) for start, end, _ in hits)
    return ()


@lru_cache(maxsize=16_384)
def _word_keys(text: str) -> tuple[tuple[int, int, str], ...]:
    return tuple((m.start(), m.end(), m.group(0).lower()[:6]) for m in _WORD.finditer(text))


def _word_gap(text: str, a: int, b: int) -> int:
    return len(_WORD.findall(text[min(a, b) : max(a, b)]))


def _distance(mention: Mention, quantity: Quantity, text: str) -> int:
    """Words between a mention and a number; a number before its mention counts as a little further."""
    if quantity.start >= mention.end:
        return _word_gap(text, mention.end, quantity.start)
    if quantity.end <= mention.start:
        return _word_gap(text, quantity.end, mention.start) + 2
    return 0


def _readings(metric: Metric, sentence: _Sentence, catalog: Catalog) -> list[_Reading]:
    text = sentence.text
    if looks_like_instruction(text):
        return []
    mentions = metric_mentions(metric, text)
    if not mentions:
        return []
    unit = metric_unit(metric.unit)
    correction = bool(_CORRECTION.search(text))
    hedged = bool(_HEDGES.search(text))
    rivals = [(m, metric_mentions(m, text)) for m in catalog.metrics if m.id != metric.id]
    readings = []
    for q in find_quantities(text, words=True):
        conversion = convert(q, unit)
        if conversion is None or q.superseded:
            continue
        before, after = text[: q.start], text[q.end :]
        if q.in_words and not _plausible_in_words(q, unit, before, after):
            continue
        if _NEGATED.search(before[-20:]):
            continue  # "4.1%, not 3.1%"
        if _TARGET.search(before[-40:]) or _TARGET_AFTER.match(after):
            continue
        if not correction and (_PREVIOUS.search(before[-40:]) and not _CURRENT.search(before[-12:])):
            continue
        if _WINDOW.search(before[-10:]) and q.family == "time":
            continue  # "MTTR over the last 30 days: 67 min": 30 days is the window, not the value
        if _PREVIOUS_AFTER.match(after) or _DELTA.search(before[-12:]) or _DELTA_AFTER.match(after):
            continue
        distance = min(_distance(m, q, text) for m in mentions)
        if _claimed_by_rival(q, distance, rivals, text):
            continue
        strong = any(m.strong for m in mentions)
        readings.append(
            _Reading(sentence, q, conversion, distance, strong, bool(_CURRENT.search(before[-15:])), correction, hedged)
        )
    numerals = [r for r in readings if not r.quantity.in_words]
    return numerals or readings


def _plausible_in_words(q: Quantity, unit: MetricUnit, before: str, after: str) -> bool:
    """Number words are everywhere ("one of the", "no one"): one is a reading only with a unit that fits, or,
    for a count, right after a cue such as "is" or ":"."""
    if q.unit is not None:
        return True
    return unit.family in ("count", "other") and bool(_CURRENT.search(before[-15:])) and not _OF_AFTER.match(after)


def _claimed_by_rival(q: Quantity, distance: int, rivals: list[tuple[Metric, list[Mention]]], text: str) -> bool:
    """A number closer to another metric's name (in a unit that metric can take) belongs to that metric."""
    for rival, mentions in rivals:
        if not mentions or not any(m.strong for m in mentions):
            continue
        rival_unit = metric_unit(rival.unit)
        fits = convert(q, rival_unit)
        if fits is None or (q.unit is None and rival_unit.family not in ("count", "other")):
            continue
        if min(_distance(m, q, text) for m in mentions if m.strong) < distance:
            return True
    return False


def _corrections(metric: Metric, sentences: list[_Sentence], readings: list[_Reading]) -> list[_Reading]:
    """Corrections that do not repeat the metric's name: "Correction: it was 4.1%, not 3.1%" after "3.1%"."""
    unit = metric_unit(metric.unit)
    fixed: list[_Reading] = []
    for sentence in sentences:
        text = sentence.text
        if not _CORRECTION.search(text) or looks_like_instruction(text) or metric_mentions(metric, text):
            continue
        quantities = [(q, convert(q, unit)) for q in find_quantities(text)]
        negated = [c for q, c in quantities if c and _NEGATED.search(text[: q.start][-20:])]
        stated = [(q, c) for q, c in quantities if c and not _NEGATED.search(text[: q.start][-20:])]
        earlier = [r for r in readings if r.sentence.order < sentence.order]
        replaced = [r for r in earlier if any(values_match(n.value, r.value) for n in negated)]
        if replaced and len(stated) == 1:
            q, conversion = stated[0]
            fixed.append(_Reading(sentence, q, conversion, 0, True, True, True, bool(_HEDGES.search(text))))
    return fixed


def _rank(r: _Reading) -> tuple[int, int, int, int, int]:
    """Strong mentions first, then corrections, then the newest text, then explicit units and proximity."""
    return (int(r.strong), int(r.correction), r.sentence.order, int(r.quantity.unit is not None), -r.distance)


def _answer(metric: Metric, sentences: list[_Sentence], catalog: Catalog) -> MetricAnswer:
    candidates: list[_Reading] = []
    for sentence in sentences:
        per_sentence = _readings(metric, sentence, catalog)
        if per_sentence:
            candidates.append(min(per_sentence, key=lambda r: (r.distance, -int(r.current_cue), r.quantity.start)))
    if not candidates:
        return _abstain(metric.id, f"no source states {metric.id} ({metric.description})")
    candidates += _corrections(metric, sentences, candidates)
    numerals = [c for c in candidates if not c.quantity.in_words]
    best = max(numerals or candidates, key=_rank)  # words only as a last resort: digits can be checked
    return _reading_answer(metric, best, candidates)


def _reading_answer(metric: Metric, best: _Reading, candidates: list[_Reading]) -> MetricAnswer:
    confidence = 0.95 if best.strong else 0.5
    assumptions: list[str] = []
    notes: list[str] = []
    if best.conversion.assumption:
        assumptions.append(best.conversion.assumption)
        if best.quantity.unit is None:
            confidence -= 0.15
    if not best.current_cue and best.distance > 3:
        confidence -= 0.1
        notes.append("the number is some words away from the metric's name")
    if best.hedged:
        confidence -= 0.35
        notes.append("the statement is hedged")
    if best.correction:
        assumptions.append("a correction overrides the earlier figure")
    if best.quantity.in_words:
        confidence -= IN_WORDS_PENALTY
        assumptions.append(IN_WORDS_ASSUMPTION)
    others = [c for c in candidates if c is not best and not values_match(c.value, best.value, metric.tolerance)]
    same_time = [c for c in others if c.sentence.source.observed_at == best.sentence.source.observed_at]
    if same_time and not best.correction:
        confidence -= 0.3
        notes.append(f"{len(same_time)} other figure(s) in equally recent text disagree")
    elif others and not best.correction:
        confidence -= 0.1
        if any(c.quantity.in_words and c.sentence.order > best.sentence.order for c in others):
            assumptions.append("a figure in digits is preferred to a newer one written in words")
        else:
            assumptions.append("the most recent statement supersedes earlier ones")
    agreeing = [c for c in candidates if c is not best and values_match(c.value, best.value, metric.tolerance)]
    if agreeing and not others:
        confidence += 0.03
    confidence = round(min(0.97, max(0.05, confidence)), 3)
    reasoning = f"{best.sentence.source.source_id} states {best.quantity.text.strip()} for {metric.id}"
    if notes:
        reasoning += "; " + "; ".join(notes)
    return MetricAnswer(
        metric_id=metric.id,
        value=best.value,
        confidence=confidence,
        evidence=[Evidence(source_id=best.sentence.source.source_id, quote=_quote(best))],
        reasoning=reasoning + ".",
        assumptions=assumptions,
    )


def _quote(r: _Reading) -> str:
    """The sentence, or a window of it around the number when the sentence is long (still verbatim)."""
    text = r.sentence.text
    if len(text) <= MAX_QUOTE_CHARS:
        return text
    centre = r.quantity.start
    start = max(0, centre - MAX_QUOTE_CHARS // 2)
    end = min(len(text), start + MAX_QUOTE_CHARS)
    start = text.rfind(" ", 0, start) + 1 if start > 0 else 0
    cut = text.find(" ", end)
    return text[start : cut if cut != -1 else len(text)].strip()


def _abstain(metric_id: str, why: str) -> MetricAnswer:
    return MetricAnswer(metric_id=metric_id, value=None, confidence=0.0, evidence=[], reasoning=why + ".")


def request_hash(model: str, request: ExtractionRequest) -> str:
    """The response-cache key: model, prompt version and every input the answer depends on."""
    payload = {
        "model": model,
        "prompt_version": PROMPT_VERSION,
        "day": request.day.isoformat(),
        "source_type": request.source_type,
        "metric_ids": list(request.metric_ids),
        "sources": [[s.source_id, s.text, s.observed_at.isoformat()] for s in request.sources],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class OfflineBackend:
    """`ExtractionBackend` without a model: zero tokens, zero cost, same answers every time."""

    name = "offline"
    model = MODEL

    def extract(self, requests: Sequence[ExtractionRequest], catalog: Catalog) -> list[ExtractionResult]:
        results = []
        for request in requests:
            started = time.perf_counter()
            answers = extract_answers(request, catalog)
            results.append(
                ExtractionResult(
                    answers=answers,
                    model=self.model,
                    backend=self.name,
                    prompt_version=PROMPT_VERSION,
                    request_hash=request_hash(self.model, request),
                    usage=LlmUsage(),
                    cost_usd=0.0,
                    latency_ms=(time.perf_counter() - started) * 1000,
                    stop_reason="end_turn",
                )
            )
        return results
