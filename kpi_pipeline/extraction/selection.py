"""Which sources each extraction call reads: selector filtering, relevance ranking, a token budget.

Tokens cost money and attention, so a day's sources are ranked by how likely they are to state one of
the metrics (names and aliases, numbers in a fitting unit) and packed into a budget; whatever is left out
is recorded. Metrics whose selectors pick the same sources share one request, so the sources are sent
(and prompt-cached) once. Text that reads like instructions to the model is never sent; when it names a
metric, it is recorded as a suspected injection against that metric, so the day's value is held back.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from kpi_pipeline.catalog import Catalog, Metric, SourceSelector
from kpi_pipeline.extraction.injection import InjectionHit, find_injections
from kpi_pipeline.extraction.matching import Mention, name_index, text_names
from kpi_pipeline.extraction.numbers import Quantity, convert, find_quantities, metric_unit
from kpi_pipeline.extraction.schema import ExtractionRequest, SourceDoc

DEFAULT_TOKEN_BUDGET = 30_000  # per request: sources only, prompt and metric definitions come on top
# metrics asked in one call: smaller structured answers, and the calls after the first of a source group
# read the same sources from the prompt cache
DEFAULT_METRICS_PER_REQUEST = 4
_TOKEN_PIECES = re.compile(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]")


def estimate_tokens(text: str) -> int:
    """Tokens in `text` for Claude-style BPE: ~1 per short word, more for long words and digit runs.

    Closer than chars/4 for chat text full of numbers, ids and punctuation, which tokenise densely.
    """
    total = 0
    for piece in _TOKEN_PIECES.findall(text):
        if piece[0].isalpha():
            total += 1 + len(piece) // 7
        elif piece[0].isdigit():
            total += math.ceil(len(piece) / 3)
        else:
            total += 1
    return total


def selector_matches(selector: SourceSelector, doc: SourceDoc) -> bool:
    """`slack:#channel` (name or id), `jira:PROJECT`, `docs:glob` (on the path); no pattern matches the whole type."""
    if selector.source_type != doc.source_type:
        return False
    if selector.pattern is None:
        return True
    pattern = selector.pattern.lower()
    if doc.source_type == "slack":
        return fnmatch.fnmatchcase((doc.channel or "").lower(), pattern) or _channel_id(doc).lower() == pattern
    if doc.source_type == "jira":
        return fnmatch.fnmatchcase((doc.channel or "").lower(), pattern)
    path = (doc.channel or "").lower()
    return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, pattern.rstrip("/") + "/*")


def _channel_id(doc: SourceDoc) -> str:
    """The Slack channel id in `slack:C123:1720000000.000100`."""
    return doc.source_id.split(":")[1] if doc.source_id.count(":") >= 2 else ""


def _place(doc: SourceDoc) -> tuple[str, str | None, str]:
    """Where a doc is, all that a selector reads of it: type, channel (project, path) and Slack channel id."""
    return doc.source_type, doc.channel, _channel_id(doc) if doc.source_type == "slack" else ""


@lru_cache(maxsize=65_536)
def instruction_hits(text: str) -> tuple[InjectionHit, ...]:
    """`find_injections`, once per text: selection screens every source for suspects, then again for ranking,
    and the offline extractor screens each sentence (most chat messages are one)."""
    return tuple(find_injections(text))


def relevance(doc: SourceDoc, metrics: Sequence[Metric], screen: bool = True) -> float:
    """How likely `doc` states one of `metrics`: name/alias hits, weaker keyword hits, numbers that fit;
    0 for text that addresses the model, unless `screen` is off."""
    if screen and instruction_hits(doc.text):
        return 0.0
    mentions = text_names(name_index(metrics), doc.text).mentions
    fits = unit_fits(doc.text, [m.unit for m in metrics])
    return _score([(_strength(mentions.get(i, ())), fits[m.unit]) for i, m in enumerate(metrics)])


_NO_FIT, _FITS_UNWRITTEN, _FITS_WRITTEN = 0, 1, 2  # a text's numbers for a unit: none fit, some fit, one written in it


def unit_fits(text: str, units: Sequence[str]) -> dict[str, int]:
    """Per unit: whether `text` has numbers that convert to it, and whether one of them has its unit written."""
    quantities = _quantities(text)
    fits = {}
    for unit in units:
        target = metric_unit(unit)
        fitting = [q for q in quantities if convert(q, target) is not None]
        fits[unit] = _NO_FIT if not fitting else _FITS_WRITTEN if any(q.unit for q in fitting) else _FITS_UNWRITTEN
    return fits


@lru_cache(maxsize=65_536)
def _quantities(text: str) -> tuple[Quantity, ...]:
    """`find_quantities`, once per text: keying answers (`plausibility.bearing_on`) reads the numbers of every
    source of a request once per metric."""
    return tuple(find_quantities(text))


def _strength(mentions: Sequence[Mention]) -> bool | None:
    """True: the text names a metric by alias or id; False: only by description words; None: not at all."""
    return any(m.strong for m in mentions) if mentions else None


def _score(per_metric: Iterable[tuple[bool | None, int]]) -> float:
    """The relevance of a text from its mention of each metric (`_strength`) and the fit of its numbers to that
    metric's unit, added in the metrics' order: a float sum depends on its order, and ties order the sources."""
    score = 0.0
    for strength, fit in per_metric:
        if strength is not None:
            score += (3.0 if strength else 1.0) + (2.0 if fit else 0.0)
        elif fit:
            score += 0.25 if fit == _FITS_WRITTEN else 0.1
    return score


@dataclass(frozen=True)
class SuspectedInjection:
    """A source that reads like instructions to the model and names metrics (by alias or id): not sent."""

    source_type: str
    source_id: str
    metric_ids: tuple[str, ...]
    rules: tuple[str, ...] = ()  # the detector's rules that fired on it


def suspected_injection(doc: SourceDoc, metrics: Sequence[Metric]) -> SuspectedInjection | None:
    """`doc` as a suspected injection against the `metrics` whose selectors pick it and that it names."""
    hits = instruction_hits(doc.text)
    if not hits:
        return None
    mentions = text_names(name_index(metrics), doc.text).mentions
    named = tuple(
        m.id
        for i, m in enumerate(metrics)
        if any(selector_matches(s, doc) for s in m.sources) and _strength(mentions.get(i, ()))
    )
    return SuspectedInjection(doc.source_type, doc.source_id, named, tuple(h.rule for h in hits)) if named else None


@dataclass
class Selection:
    """The requests to send for one day, and what was left out of them."""

    requests: list[ExtractionRequest] = field(default_factory=list)
    suspected_injections: list[SuspectedInjection] = field(default_factory=list)  # not sent; hold their metrics back
    left_out: dict[str, list[str]] = field(default_factory=dict)  # source type -> source ids not sent
    unasked: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (source type, metrics) with no source
    irrelevant: int = 0  # left out because nothing in them concerns the metrics
    over_budget: int = 0  # relevant, but the budget was spent on more relevant sources

    @property
    def sources_selected(self) -> int:
        return len({s.source_id for r in self.requests for s in r.sources})

    @property
    def sources_left_out(self) -> int:
        return sum(len(ids) for ids in self.left_out.values())


def select(
    day: date,
    docs: Sequence[SourceDoc],
    catalog: Catalog,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    metrics_per_request: int = DEFAULT_METRICS_PER_REQUEST,
    screen: bool = True,
) -> Selection:
    """Requests for one day: per source type, metrics grouped by the sources their selectors pick, at most
    `metrics_per_request` to a request; requests of one group send identical sources (one cached prefix).
    `screen=False` sends text that addresses the model too: only for proving the later defences alone."""
    selection = Selection()
    scoring = _DayScoring(catalog, screen)
    for source_type in ("slack", "jira", "docs"):
        typed = [d for d in docs if d.source_type == source_type]
        metrics_of_type = [(i, m) for i, m in enumerate(catalog.metrics) if source_type in m.source_types]
        if screen:
            screened = [m for _, m in metrics_of_type]
            suspects = (suspected_injection(d, screened) for d in typed)
            selection.suspected_injections.extend(s for s in suspects if s is not None)
        places = [_place(d) for d in typed]
        at_place = dict(zip(places, typed, strict=True))  # one doc per place: selectors are matched per place
        pools: dict[tuple[bool, ...], tuple[str, ...]] = {}  # the sources picked at these places
        groups: dict[tuple[str, ...], list[tuple[int, Metric]]] = {}
        for position, metric in metrics_of_type:
            picks = tuple(any(selector_matches(s, d) for s in metric.sources) for d in at_place.values())
            if picks not in pools:
                picked = {p for p, pick in zip(at_place, picks, strict=True) if pick}
                pools[picks] = tuple(d.source_id for d, p in zip(typed, places, strict=True) if p in picked)
            groups.setdefault(pools[picks], []).append((position, metric))
        sent: set[str] = set()
        for pool_ids, members in groups.items():
            wanted = set(pool_ids)
            candidates = [d for d in typed if d.source_id in wanted]
            chosen, irrelevant, over = pack(scoring.scores(candidates, members), token_budget)
            selection.irrelevant += len(irrelevant)
            selection.over_budget += len(over)
            sent.update(d.source_id for d in chosen)
            metric_ids = [m.id for _, m in members]
            if not chosen:
                selection.unasked.append((source_type, tuple(metric_ids)))
                continue
            for start in range(0, len(metric_ids), max(1, metrics_per_request)):
                chunk = tuple(metric_ids[start : start + metrics_per_request])
                selection.requests.append(ExtractionRequest(day, source_type, chunk, tuple(chosen)))
        left = [d.source_id for d in typed if d.source_id not in sent]
        if left:
            selection.left_out[source_type] = left
    return selection


_Profile = tuple[tuple[tuple[int, bool], ...], tuple[int, ...]]  # (catalog position, strength) mentioned; unit fits


class _DayScoring:
    """`relevance` of a day's sources for each group of metrics, at the cost of one match per distinct text:
    a text's mentions of every catalog metric and the fit of its numbers to every unit are found once (most
    chat is repeated), and a group's score is added up once per distinct profile of those."""

    def __init__(self, catalog: Catalog, screen: bool) -> None:
        self.index = name_index(catalog.metrics)
        self.units = sorted({m.unit for m in catalog.metrics})
        self.screen = screen
        self.profiles: dict[str, _Profile | None] = {}  # text -> its profile, None: it addresses the model

    def profile(self, text: str) -> _Profile | None:
        if text not in self.profiles:
            if self.screen and instruction_hits(text):
                self.profiles[text] = None
            else:
                mentions = text_names(self.index, text).mentions
                fits = unit_fits(text, self.units)
                strengths = tuple((i, any(m.strong for m in found)) for i, found in mentions.items())
                self.profiles[text] = strengths, tuple(fits[u] for u in self.units)
        return self.profiles[text]

    def scores(self, docs: Sequence[SourceDoc], members: Sequence[tuple[int, Metric]]) -> list[tuple[float, SourceDoc]]:
        """(relevance for the metrics `members`, at their catalog positions, doc) for each doc."""
        unit_at = {u: n for n, u in enumerate(self.units)}
        group = [(position, unit_at[m.unit]) for position, m in members]
        memo: dict[_Profile, float] = {}
        scored = []
        for doc in docs:
            profile = self.profile(doc.text)
            if profile is None:
                scored.append((0.0, doc))
                continue
            if profile not in memo:
                strengths, fits = dict(profile[0]), profile[1]
                memo[profile] = _score((strengths.get(position), fits[unit]) for position, unit in group)
            scored.append((memo[profile], doc))
        return scored


def pack(
    scored: Sequence[tuple[float, SourceDoc]], token_budget: int
) -> tuple[list[SourceDoc], list[SourceDoc], list[SourceDoc]]:
    """(chosen in time order, irrelevant, over budget): of (relevance, source) pairs, the most relevant sources
    that fit the budget."""
    irrelevant = [d for score, d in scored if score <= 0]
    ranked = sorted(((s, d) for s, d in scored if s > 0), key=lambda sd: (-sd[0], -sd[1].observed_at.timestamp()))
    chosen: list[SourceDoc] = []
    over: list[SourceDoc] = []
    spent = 0
    for _, doc in ranked:
        cost = estimate_tokens(doc.text)
        if spent + cost <= token_budget:
            chosen.append(doc)
            spent += cost
        else:
            over.append(doc)
    return sorted(chosen, key=lambda d: d.observed_at), irrelevant, over
