"""Which metrics a request asks, and which of its sources bear on each metric's answer: pure rules.

Selection (selection.py) sends one request per group of metrics whose selectors pick the same sources, with
every source that could concern any metric of the group, and asks every metric of the group. Two rules narrow
what is billed, and neither can lose a value that could be published:

- **Ask a metric only where it could be read** (`plausible`): of a request one of whose sources names it
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
from kpi_pipeline.extraction.matching import names_metric
from kpi_pipeline.extraction.schema import ExtractionRequest, SourceDoc
from kpi_pipeline.extraction.selection import DEFAULT_METRICS_PER_REQUEST, relevance


def plausible(metric: Metric, request: ExtractionRequest) -> bool:
    """Whether an answer to `metric` over `request`'s sources could be published (see the module docstring)."""
    if metric.derived:
        return True
    if any(s.source_type == request.source_type and s.pattern is not None for s in metric.sources):
        return True
    return any(names_metric(metric, source.text) for source in request.sources)


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
    """`requests` with each metric asked only where `plausible`. Requests over the same day, source type and
    sources are merged and their plausible metrics asked `metrics_per_request` at a time, so dropping metrics
    does not leave more, smaller calls over one prefix."""
    narrowed = Narrowed()
    groups: dict[tuple[object, ...], tuple[ExtractionRequest, list[str]]] = {}
    for request in requests:
        key = (request.day, request.source_type, tuple(s.source_id for s in request.sources))
        asked = groups.setdefault(key, (request, []))[1]
        left_out = []
        for metric_id in request.metric_ids:
            if plausible(catalog.metric(metric_id), request):
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
