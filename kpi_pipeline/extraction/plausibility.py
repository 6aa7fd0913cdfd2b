"""Which metrics a request asks, and which of its sources bear on each metric's answer: pure rules.

Selection (selection.py) sends one request per group of metrics whose selectors pick the same sources, with
every source that could concern any metric of the group, and asks every metric of the group. Two rules narrow
what is billed, and neither can lose a value that could be published:

- **Ask a metric only where it could be read** (`narrow`): of a request one of whose sources names it
  (`matching.names_metric`: an alias, its id, the words of its description, all words of a name in a table),
  or when the metric is `derived`, or when the catalog ties this source type's sources to it by a narrowed
  selector (`slack:#channel`, `jira:PROJECT`, `docs:glob`). Grounding publishes a value only on those terms
  (grounding.py, check 3: the quote, its sentence or its table names the metric), so a metric named by no
  source of the request could come back only null or ungrounded, and asking it would bill its answer's output
  tokens (most of the bill) for nothing. It is recorded as not asked, as selection records a metric with no
  source at all.
- **Key an answer on the sources that bear on it** (`bearing_on`): those that name the metric or carry a
  number in its unit (`selection.relevance` for that metric alone), exactly the sources selection would send
  for the metric if it were alone in its group. A source with neither can neither state nor correct its
  value; it is in the request only for another metric. So adding a metric to the catalog, which adds the
  sources it needs to the requests it joins, leaves the other metrics' answers cached (response_cache.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kpi_pipeline.catalog import Catalog, Metric
from kpi_pipeline.extraction.matching import NameIndex, name_index, text_names
from kpi_pipeline.extraction.schema import ExtractionRequest, SourceDoc
from kpi_pipeline.extraction.selection import DEFAULT_METRICS_PER_REQUEST, relevance


def _asked_anyway(metric: Metric, source_type: str) -> bool:
    """A derived metric, or one whose selectors tie this source type's sources to it, whatever they say."""
    return metric.derived or any(s.source_type == source_type and s.pattern is not None for s in metric.sources)


def _named_in(index: NameIndex, sources: Sequence[SourceDoc]) -> set[int]:
    """The positions in `index` of the metrics one of `sources` names (`matching.names_metric`)."""
    named: set[int] = set()
    for source in sources:
        named |= text_names(index, source.text).named
    return named


def bearing_on(metric: Metric, sources: Sequence[SourceDoc]) -> list[SourceDoc]:
    """The sources that name `metric` or carry a number in its unit, in their order."""
    return [s for s in sources if relevance(s, [metric], screen=False) > 0]


@dataclass
class Narrowed:
    """A day's requests asking only their plausible metrics, and the metrics left out, by source type."""

    requests: list[ExtractionRequest] = field(default_factory=list)
    unnamed: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (source type, metrics not asked)


def narrow(
    requests: Sequence[ExtractionRequest], catalog: Catalog, metrics_per_request: int = DEFAULT_METRICS_PER_REQUEST
) -> Narrowed:
    """`requests` with each metric asked only where it could be read (see the module docstring). Requests over
    the same day, source type and sources are merged and their metrics asked `metrics_per_request` at a time, so
    dropping metrics does not leave more, smaller calls over one prefix."""
    narrowed = Narrowed()
    index = name_index(catalog.metrics)
    position = {m.id: i for i, m in enumerate(catalog.metrics)}
    groups: dict[tuple[object, ...], tuple[ExtractionRequest, list[str]]] = {}
    named: dict[tuple[object, ...], set[int]] = {}  # per group: what its (shared) sources name
    for request in requests:
        key = (request.day, request.source_type, tuple(s.source_id for s in request.sources))
        asked = groups.setdefault(key, (request, []))[1]
        if key not in named:
            named[key] = _named_in(index, request.sources)
        left_out = []
        for metric_id in request.metric_ids:
            metric = catalog.metric(metric_id)
            if _asked_anyway(metric, request.source_type) or position[metric_id] in named[key]:
                asked.append(metric_id)
            else:
                left_out.append(metric_id)
        if left_out:
            narrowed.unnamed.append((request.source_type, tuple(left_out)))
    size = max(1, metrics_per_request)
    for request, metric_ids in groups.values():
        for start in range(0, len(metric_ids), size):
            chunk = tuple(metric_ids[start : start + size])
            narrowed.requests.append(ExtractionRequest(request.day, request.source_type, chunk, request.sources))
    return narrowed
