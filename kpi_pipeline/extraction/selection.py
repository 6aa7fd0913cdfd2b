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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from kpi_pipeline.catalog import Catalog, Metric, SourceSelector
from kpi_pipeline.extraction.injection import InjectionHit, find_injections
from kpi_pipeline.extraction.matching import metric_mentions
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
    quantities = find_quantities(doc.text)
    fits: dict[str, list[Quantity]] = {}  # per unit: the text's numbers that convert to it
    score = 0.0
    for metric in metrics:
        mentions = metric_mentions(metric, doc.text)
        if metric.unit not in fits:
            fits[metric.unit] = [q for q in quantities if convert(q, metric_unit(metric.unit)) is not None]
        fitting = fits[metric.unit]
        if mentions:
            score += (3.0 if any(m.strong for m in mentions) else 1.0) + (2.0 if fitting else 0.0)
        elif fitting:
            score += 0.25 if any(q.unit for q in fitting) else 0.1
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
    named = tuple(
        m.id
        for m in metrics
        if any(selector_matches(s, doc) for s in m.sources) and any(x.strong for x in metric_mentions(m, doc.text))
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
    for source_type in ("slack", "jira", "docs"):
        typed = [d for d in docs if d.source_type == source_type]
        metrics_of_type = [m for m in catalog.metrics if source_type in m.source_types]
        if screen:
            suspects = (suspected_injection(d, metrics_of_type) for d in typed)
            selection.suspected_injections.extend(s for s in suspects if s is not None)
        groups: dict[tuple[str, ...], list[Metric]] = {}
        places = [_place(d) for d in typed]
        at_place = dict(zip(places, typed, strict=True))  # one doc per place: selectors are matched per place
        for metric in metrics_of_type:
            picks = {p: any(selector_matches(s, d) for s in metric.sources) for p, d in at_place.items()}
            pool = tuple(d.source_id for d, p in zip(typed, places, strict=True) if picks[p])
            groups.setdefault(pool, []).append(metric)
        sent: set[str] = set()
        for pool_ids, metrics in groups.items():
            wanted = set(pool_ids)
            candidates = [d for d in typed if d.source_id in wanted]
            chosen, irrelevant, over = pack(candidates, metrics, token_budget, screen)
            selection.irrelevant += len(irrelevant)
            selection.over_budget += len(over)
            sent.update(d.source_id for d in chosen)
            if not chosen:
                selection.unasked.append((source_type, tuple(m.id for m in metrics)))
                continue
            for start in range(0, len(metrics), max(1, metrics_per_request)):
                chunk = tuple(m.id for m in metrics[start : start + metrics_per_request])
                selection.requests.append(ExtractionRequest(day, source_type, chunk, tuple(chosen)))
        left = [d.source_id for d in typed if d.source_id not in sent]
        if left:
            selection.left_out[source_type] = left
    return selection


def pack(
    pool: Sequence[SourceDoc], metrics: Sequence[Metric], token_budget: int, screen: bool = True
) -> tuple[list[SourceDoc], list[SourceDoc], list[SourceDoc]]:
    """(chosen in time order, irrelevant, over budget): the most relevant sources that fit the budget."""
    scored = [(relevance(d, metrics, screen), d) for d in pool]
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
