"""The offline extractor: deterministic, no network, good enough to run the whole pipeline for real.

It reads like a careful analyst with a highlighter: find the sentences that name the metric, take the
number that belongs to it (not a target, not the old value, not another metric's), let corrections and
newer messages win, quote the sentence, and say how sure it is. It never takes a number from text that
addresses the model. A number written in words ("three percent") is read only when no sentence states the
metric in digits, with less confidence and the assumption said out loud; grounding then flags it.
Each answer carries the period it describes: the time phrase next to the number ("yesterday", "last week"),
resolved against its source's own day, else the metric's window ending on that day (extraction.periods). For a
`by_period` metric a number tied to an earlier period ("deploys yesterday: 14") is that period's value, not a
previous value to skip.
The local Anthropic server answers with `extract_answers`, so both backends share one notion of a right answer.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date

from kpi_pipeline.catalog import Catalog, Metric
from kpi_pipeline.extraction.matching import Mention, cell_score, metric_mentions, stem, vocabulary, words_of
from kpi_pipeline.extraction.numbers import (
    FUNCTION_WORDS,
    Conversion,
    MetricUnit,
    Quantity,
    convert,
    find_quantities,
    metric_unit,
    values_match,
)
from kpi_pipeline.extraction.periods import period_near, resolve
from kpi_pipeline.extraction.schema import (
    PROMPT_VERSION,
    Evidence,
    ExtractionRequest,
    ExtractionResult,
    LlmUsage,
    MetricAnswer,
    SourceDoc,
)
from kpi_pipeline.extraction.selection import instruction_hits
from kpi_pipeline.extraction.tables import Cell, Row, Table, clean, find_tables

MODEL = "offline-extractor-v1"
# The offline extractor reads no prompt, so its calibration is keyed on this, not PROMPT_VERSION: bump it when
# its answers change on purpose (tests/calibration/test_shipped_maps.py fails when the shipped map is stale).
OFFLINE_VERSION = "2026-12-01.2"
MAX_QUOTE_CHARS = 300

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
_NOUN_PHRASE = re.compile(r"[^.,;:!?()\[\]|\n]*")
_COUNTED = re.compile(r"\d\s+$")  # a word right after a bare number: what that number counts
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
class _Reading:
    sentence: _Sentence
    quantity: Quantity
    conversion: Conversion
    distance: int  # words between the mention and the number
    strong: bool
    current_cue: bool
    correction: bool
    hedged: bool
    governed: bool = False  # the number counts the metric's name ("3 Regressions") or sits in its table cell
    table_score: tuple[int, int] = (0, 0)  # for a table cell: matching.cell_score of its caption, header, row
    shared_with: str = ""  # another metric the sentence also speaks of, in words the number could belong to
    corrects: _Sentence | None = None  # the earlier statement a correction without the metric's name replaces
    earlier: bool = False  # a by_period metric's value for a period that ended before the source was written

    @property
    def value(self) -> float:
        return self.conversion.value

    @property
    def strength(self) -> tuple[int, int, tuple[int, int]]:
        """How directly the text ties this number to the metric; readings of equal strength compete."""
        return int(self.strong), int(self.governed), self.table_score


def extract_answers(request: ExtractionRequest, catalog: Catalog) -> list[MetricAnswer]:
    """One answer per metric of the request, from the request's sources only."""
    docs = _by_time(request.sources)
    tables = [(i, doc, table) for i, doc in enumerate(docs) for table in find_tables(doc.text)]
    sentences = [s for i, doc in enumerate(docs) for s in _sentences(doc, i, _table_lines(doc, tables))]
    sentences = [s for s in sentences if not instruction_hits(s.text)]  # never read: screened once here
    answers = []
    for metric_id in request.metric_ids:
        try:
            metric = catalog.metric(metric_id)
        except KeyError:
            answers.append(_abstain(metric_id, f"{metric_id!r} is not in the catalog"))
            continue
        answers.append(_answer(metric, sentences, _table_readings(metric, tables, request.day, catalog), catalog))
    return answers


def _by_time(sources: Sequence[SourceDoc]) -> list[SourceDoc]:
    return sorted(sources, key=lambda s: s.observed_at)


def _table_lines(doc: SourceDoc, tables: list[tuple[int, SourceDoc, Table]]) -> list[tuple[int, int]]:
    """Spans of the doc's table lines: they are read as tables, not as prose."""
    spans = []
    for _, d, table in tables:
        if d is doc:
            spans += [(table.header.start, table.header.end), *((r.start, r.end) for r in table.rows)]
            spans.append((table.header.end, table.rows[0].start if table.rows else table.header.end))
    return spans


def _sentences(doc: SourceDoc, doc_index: int, skip: Sequence[tuple[int, int]] = ()) -> list[_Sentence]:
    result: list[_Sentence] = []
    start = 0
    for boundary in [*_SENTENCE_END.finditer(doc.text), None]:
        end = boundary.start() if boundary else len(doc.text)
        piece = doc.text[start:end]
        stripped_start = start + len(piece) - len(piece.lstrip())
        stripped_end = start + len(piece.rstrip())
        in_table = any(a <= stripped_start and stripped_end <= b for a, b in skip)
        if stripped_end > stripped_start and not in_table:
            result.append(_Sentence(doc, doc_index * 10_000 + len(result), stripped_start, stripped_end))
        if boundary:
            start = boundary.end()
    return result


def _word_gap(text: str, a: int, b: int) -> int:
    return len(words_of(text[min(a, b) : max(a, b)]))


def _distance(mention: Mention, quantity: Quantity, text: str) -> int:
    """Words between a mention and a number; a number before its mention counts as a little further."""
    if quantity.start >= mention.end:
        return _word_gap(text, mention.end, quantity.start)
    if quantity.end <= mention.start:
        return _word_gap(text, quantity.end, mention.start) + 2
    return 0


def _readings(metric: Metric, sentence: _Sentence, catalog: Catalog) -> list[_Reading]:
    text = sentence.text
    mentions = metric_mentions(metric, text)
    if not mentions:
        return []
    rivals = [(m, metric_mentions(m, text)) for m in catalog.metrics if m.id != metric.id]
    mentions = _own(mentions, rivals)
    if not mentions:
        return []
    rivals = _outside(rivals, mentions)
    unit = metric_unit(metric.unit)
    correction = bool(_CORRECTION.search(text))
    hedged = bool(_HEDGES.search(text))
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
        previous = bool(_PREVIOUS.search(before[-40:])) and not _CURRENT.search(before[-12:])
        earlier = (previous or bool(_PREVIOUS_AFTER.match(after))) and _of_an_earlier_period(metric, sentence, q)
        if not correction and previous and not earlier:
            continue
        if _WINDOW.search(before[-10:]) and q.family == "time":
            continue  # "MTTR over the last 30 days: 67 min": 30 days is the window, not the value
        if (_PREVIOUS_AFTER.match(after) and not earlier) or _DELTA.search(before[-12:]) or _DELTA_AFTER.match(after):
            continue
        if q.range is not None:
            continue  # one end of "[0.1%, 1.8%]" or "3-5" is not the metric's value
        governed = _governs(q, mentions, text)
        if q.noun and not governed and not _counts_the_metric(metric, text[q.end :]):
            continue  # "1 Improvements" counts improvements, whatever metric is named nearby
        distance = 0 if governed else min(_distance(m, q, text) for m in mentions)
        if _claimed_by_rival(q, distance, rivals, text):
            continue
        strong = any(m.strong for m in mentions)
        current = governed or bool(_CURRENT.search(before[-15:]))
        shared = _shared_with(q, rivals, _governing(q, mentions, text), text)
        reading = _Reading(sentence, q, conversion, distance, strong, current, correction, hedged, governed)
        readings.append(replace(reading, shared_with=shared, earlier=earlier))
    numerals = [r for r in readings if not r.quantity.in_words]
    return numerals or readings


def _own(mentions: list[Mention], rivals: list[tuple[Metric, list[Mention]]]) -> list[Mention]:
    """The mentions, but a name that is part of a longer name of another metric: in "Weekly active users:
    11,600" the words "active users" name the weekly metric, not every metric whose id ends in them. (Words of
    a description are weighed against rivals by distance, in `_claimed_by_rival`.)"""
    longer = [r for _, found in rivals for r in found if r.strong]
    return [
        m
        for m in mentions
        if not m.strong
        or not any(r.start <= m.start and m.end <= r.end and r.end - r.start > m.end - m.start for r in longer)
    ]


def _outside(rivals: list[tuple[Metric, list[Mention]]], own: list[Mention]) -> list[tuple[Metric, list[Mention]]]:
    """Other metrics' names but those inside a longer name of this metric ("active users" in "weekly active
    users"). Words of a rival's description stay, even inside this metric's name: in "4 user accounts were
    phished" the number may be that of a metric described as accounts phished."""
    names = [m for m in own if m.strong]

    def inside(r: Mention) -> bool:
        return r.strong and any(
            n.start <= r.start and r.end <= n.end and r.end - r.start < n.end - n.start for n in names
        )

    return [(metric, [r for r in found if not inside(r)]) for metric, found in rivals]


def _reported_day(source: SourceDoc) -> date:
    return source.observed_at.astimezone(UTC).date()


def _of_an_earlier_period(metric: Metric, sentence: _Sentence, q: Quantity) -> bool:
    """Under `by_period` "deploys yesterday: 14" is the value of yesterday, not a previous value to skip: a
    number whose time phrase resolves to a period that ended before its source was written."""
    if metric.series_rule != "by_period":
        return False
    reported = _reported_day(sentence.source)
    period = period_near(sentence.text, q.start, q.end, reported)
    return period is not None and period.end < reported


def _counts_the_metric(metric: Metric, after: str) -> bool:
    """Is the head of the noun phrase after a bare number a word of the metric's names or description? The
    head is its first plural word, else its last (at most three words, up to punctuation or a function word):
    "120 new accounts", "2221 individual account recovery requests" (requests, not accounts)."""
    phrase = _NOUN_PHRASE.match(after)
    words: list[str] = []
    for word in words_of(phrase.group(0)) if phrase else []:
        if word.lower() in FUNCTION_WORDS or len(words) == 3:
            break
        words.append(word)
    plural = [w for w in words if len(w) > 3 and w.lower().endswith("s") and not w.lower().endswith("ss")]
    head = plural[0] if plural else words[-1] if words else ""
    return bool(head) and stem(head) in vocabulary(metric)


def _governs(q: Quantity, mentions: list[Mention], text: str) -> bool:
    """A bare number right before the metric's name counts it: "3 Regressions", "14 production deploys"."""
    return _governing(q, mentions, text) is not None


def _governing(q: Quantity, mentions: list[Mention], text: str) -> Mention | None:
    if q.noun is None:
        return None
    return next((m for m in mentions if m.strong and m.start >= q.end and not text[q.end : m.start].strip(" *_")), None)


# statistics a column header may name; a metric's words must name the same one (a range states the extremes)
_STATISTICS = {
    "mean": ("mean", "average", "avg"),
    "median": ("median", "p50"),
    "max": ("max", "maximum", "largest", "highest", "worst", "peak", "biggest", "best"),
    "min": ("min", "minimum", "smallest", "lowest", "least"),
    "count": ("count", "number", "n"),
    "total": ("total", "sum"),
    "range": ("range",),
}
_EXTREMES = ("max", "min")
_NOT_CURRENT_COLUMN = re.compile(
    r"\b(?:target|goal|budget|plan(?:ned)?|forecast|baseline|previous|prior|last|before|slo|sla|delta|change)\b",
    re.IGNORECASE,
)
_DATE_CELL = re.compile(r"^\s*(\d{4})[-/](\d{1,2})[-/](\d{1,2})\s*$")
_DATE_HEADER = re.compile(r"^\s*(?:date|day)\s*$", re.IGNORECASE)
_UNIT_IN_HEADER = re.compile(r"%|\b(?:percent|pct|ms|seconds?|minutes?|hours?|usd|eur|gbp)\b|\$|€|£", re.IGNORECASE)


def _statistics(words: Sequence[str]) -> set[str]:
    lowered = {w.lower() for w in words}
    return {name for name, spellings in _STATISTICS.items() if lowered & set(spellings)}


def _table_readings(
    metric: Metric, tables: list[tuple[int, SourceDoc, Table]], day: date, catalog: Catalog
) -> list[_Reading]:
    """Cells whose caption, column header and row label name the metric, in the row for the day.

    A table with a date column is read only in the row of the request's day; a column headed target, goal,
    previous, ... is not the current value; a column naming a statistic (mean, max, count, ...) must be the
    one the metric's words name. Cells another metric's names fit better belong to that metric. The best
    matching cell position is kept even when its cell is empty ("N/A"): a less fitting table then does not
    stand in for it.
    """
    unit = metric_unit(metric.unit)
    wanted = _statistics(words_of(" ".join((metric.id.replace("_", " "), metric.description, *metric.aliases))))
    wanted |= {"count"} if unit.family == "count" else set()
    found: list[tuple[tuple[int, int], _Reading | None]] = []
    for doc_index, doc, table in tables:
        date_column = _date_column(table)
        for row_no, row in enumerate(table.rows):
            if date_column is not None and not _is_day(row, date_column, day):
                continue
            label = "" if date_column == 0 else clean(row.cells[0].text) if row.cells else ""
            for col in range(1 if label or date_column == 0 else 0, len(row.cells)):
                if col == date_column:
                    continue
                header = table.column_header(col)
                if _NOT_CURRENT_COLUMN.search(header):
                    continue
                stats = _statistics(words_of(header))
                if stats - {"range"} and not stats & wanted:
                    continue
                if "range" in stats and not wanted & set(_EXTREMES):
                    continue
                extreme = ["max", "largest"] if "range" in stats and "max" in wanted else []
                extreme += ["min", "smallest"] if "range" in stats and "min" in wanted else []
                # the header and row label must name the metric; the caption only adds description words
                context = [*words_of(f"{header} {label}"), *extreme]
                score = (cell_score(metric, context)[0], cell_score(metric, [*context, *words_of(table.caption)])[1])
                if score[0] == 0 and score[1] < 2:
                    continue
                if _cell_claimed(metric, score[0], context, catalog):
                    continue
                order = doc_index * 10_000 + 5_000 + row_no
                sentence = _Sentence(doc, order, row.start, row.end)
                reading = _cell_reading(row.cells[col], header, sentence, unit, stats, wanted, score)
                if reading is not None and _narrower(metric, f"{header} {label}"):
                    reading = replace(reading, governed=False)
                found.append((score, reading))
    if not found:
        return []
    best_score = max(score for score, _ in found)
    best = [r for score, r in found if score == best_score]
    if any(r is None for r in best):
        return []  # the best-fitting cell is empty ("N/A", "-"): nothing to read
    return [r for _, r in found if r is not None]


def _date_column(table: Table) -> int | None:
    for i, cell in enumerate(table.header.cells):
        if _DATE_HEADER.match(clean(cell.text)):
            return i
    if table.rows and table.rows[0].cells and _DATE_CELL.match(table.rows[0].cells[0].text):
        return 0
    return None


def _is_day(row: Row, column: int, day: date) -> bool:
    if column >= len(row.cells):
        return False
    m = _DATE_CELL.match(row.cells[column].text)
    return m is not None and date(int(m.group(1)), int(m.group(2)), int(m.group(3))) == day


def _cell_claimed(metric: Metric, named: int, context: list[str], catalog: Catalog) -> bool:
    """Another metric whose names fit the cell better (with more words) owns it."""
    return any(cell_score(m, context)[0] > named for m in catalog.metrics if m.id != metric.id)


def _narrower(metric: Metric, words: str) -> bool:
    """Header and row label say more than the metric's names and description ("Regressions (primary)" for a
    metric of all regressions): the cell is one kind of the thing, so it ranks below a number that counts it."""
    statistic_words = {w for spellings in _STATISTICS.values() for w in spellings}
    known = vocabulary(metric)
    return any(
        stem(w) not in known and w.lower() not in statistic_words and not w.isdigit() and len(w) > 2
        for w in words_of(words)
    )


def _cell_reading(
    cell: Cell,
    header: str,
    sentence: _Sentence,
    unit: MetricUnit,
    stats: set[str],
    wanted: set[str],
    score: tuple[int, int],
) -> _Reading | None:
    """The cell's number in the metric's unit; None when the cell holds no number, or several the metric's
    words do not choose between."""
    text = sentence.source.text[cell.start : cell.end]
    quantities = [q for q in find_quantities(text) if not q.superseded]
    if len(quantities) == 2 and quantities[0].range is not None and "range" in stats:
        largest = "max" in wanted
        pick = max(quantities, key=lambda q: abs(q.value)) if largest else min(quantities, key=lambda q: abs(q.value))
        quantities = [pick]
    if len(quantities) != 1:
        return None
    q = quantities[0]
    if q.unit is None and unit.family not in ("count", "other") and not _UNIT_IN_HEADER.search(header):
        return None
    conversion = convert(q, unit)
    if conversion is None:
        return None
    q = replace(q, start=cell.start - sentence.start + q.start, end=cell.start - sentence.start + q.end)
    strong = score[0] > 0
    return _Reading(sentence, q, conversion, 0, strong, True, False, False, strong, score)


def _plausible_in_words(q: Quantity, unit: MetricUnit, before: str, after: str) -> bool:
    """Number words are everywhere ("one of the", "no one"): one is a reading only with a unit that fits, or,
    for a count, right after a cue such as "is" or ":"."""
    if q.unit is not None:
        return True
    return unit.family in ("count", "other") and bool(_CURRENT.search(before[-15:])) and not _OF_AFTER.match(after)


def _shared_with(q: Quantity, rivals: list[tuple[Metric, list[Mention]]], governing: Mention | None, text: str) -> str:
    """A metric the sentence speaks of only in the words of its description, whose unit the number fits: the
    number may be that metric's ("4 user accounts were phished": accounts in total, or accounts phished?).
    A number its name governs is not shared with a rival whose other words are themselves counted by other
    numbers (in "3 Regressions, 1 Improvements, 9 Mixed" a metric described by all three words is not what
    "9 Mixed" counts)."""
    for rival, mentions in rivals:
        if not mentions or any(m.strong for m in mentions) or not _fits(q, metric_unit(rival.unit)):
            continue
        outside = [m for m in mentions if not (governing and governing.start <= m.start and m.end <= governing.end)]
        if governing is None or not outside or not all(_COUNTED.search(text[: m.start]) for m in outside):
            return rival.id
    return ""


def _fits(q: Quantity, unit: MetricUnit) -> bool:
    return convert(q, unit) is not None and (q.unit is not None or unit.family in ("count", "other"))


def _claimed_by_rival(q: Quantity, distance: int, rivals: list[tuple[Metric, list[Mention]]], text: str) -> bool:
    """A number closer to another metric's name (in a unit that metric can take) belongs to that metric."""
    for rival, mentions in rivals:
        if not mentions or not any(m.strong for m in mentions):
            continue
        if not _fits(q, metric_unit(rival.unit)):
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
        if not _CORRECTION.search(text) or metric_mentions(metric, text):
            continue
        quantities = [(q, convert(q, unit)) for q in find_quantities(text)]
        negated = [c for q, c in quantities if c and _NEGATED.search(text[: q.start][-20:])]
        stated = [(q, c) for q, c in quantities if c and not _NEGATED.search(text[: q.start][-20:])]
        earlier = [r for r in readings if r.sentence.order < sentence.order]
        replaced = [r for r in earlier if any(values_match(n.value, r.value) for n in negated)]
        if replaced and len(stated) == 1:
            q, conversion = stated[0]
            reading = _Reading(sentence, q, conversion, 0, True, True, True, bool(_HEDGES.search(text)))
            fixed.append(replace(reading, corrects=replaced[-1].sentence))
    return fixed


def _rank(r: _Reading) -> tuple[int, int, int, tuple[int, int], int, int, int]:
    """Strong mentions first, then corrections, then numbers the metric's name governs and the best-matching
    table cell, then the newest text, then explicit units and proximity."""
    strong, governed, table_score = r.strength
    unit = int(r.quantity.unit is not None)
    return (strong, int(r.correction), governed, table_score, r.sentence.order, unit, -r.distance)


def _answer(metric: Metric, sentences: list[_Sentence], cells: list[_Reading], catalog: Catalog) -> MetricAnswer:
    candidates: list[_Reading] = list(cells)
    for sentence in sentences:
        per_sentence = _readings(metric, sentence, catalog)
        if per_sentence:
            # a by_period metric's value of today before its value of an earlier period the sentence also gives
            nearest = min(per_sentence, key=lambda r: (r.earlier, r.distance, -int(r.current_cue), r.quantity.start))
            candidates.append(nearest)
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
    if best.shared_with:
        confidence -= 0.3
        notes.append(f"the sentence also speaks of {best.shared_with}, whose value this number could be")
    if best.correction:
        assumptions.append("a correction overrides the earlier figure")
    if best.quantity.in_words:
        confidence -= IN_WORDS_PENALTY
        assumptions.append(IN_WORDS_ASSUMPTION)
    others = [  # a value of another period (by_period) does not compete with this one
        c
        for c in candidates
        if c is not best and c.earlier == best.earlier and not values_match(c.value, best.value, metric.tolerance)
    ]
    same_time = [c for c in others if c.sentence.source.observed_at == best.sentence.source.observed_at]
    competing = [c for c in same_time if c.strength >= best.strength]
    if competing and not best.correction:
        confidence -= 0.3  # two numbers the text ties to the metric equally well: held back, not guessed
        notes.append(f"{len(competing)} other figure(s) in equally recent text disagree")
    elif same_time and not best.correction:
        confidence -= 0.05
        notes.append(f"{len(same_time)} less direct figure(s) in equally recent text disagree")
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
    period = resolve(
        best.sentence.text, best.quantity.start, best.quantity.end, metric, _reported_day(best.sentence.source)
    )
    reasoning = f"{best.sentence.source.source_id} states {best.quantity.text.strip()} for {metric.id}"
    if notes:
        reasoning += "; " + "; ".join(notes)
    return MetricAnswer(
        metric_id=metric.id,
        value=best.value,
        confidence=confidence,
        evidence=[Evidence(source_id=best.sentence.source.source_id, quote=_quote(best)), *_corrected(best)],
        reasoning=reasoning + ".",
        assumptions=assumptions,
        period_start=period.start,
        period_end=period.end,
    )


def _corrected(r: _Reading) -> list[Evidence]:
    """A correction that does not name the metric cites the statement it corrects, which does."""
    if r.corrects is None:
        return []
    return [Evidence(source_id=r.corrects.source.source_id, quote=r.corrects.text[:MAX_QUOTE_CHARS])]


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
