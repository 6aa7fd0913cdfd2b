"""An answerer that obeys instructions planted in its sources: the model with no manners, for the local server.

Where a source dictates a value for an asked metric, it answers that value, quotes the line that dictates it,
is sure of itself and reports no injection; every other metric it answers as the offline extractor does. It
reads through zero-width and look-alike characters, as a model would. Its idea of an order is its own (lines that
name the metric, a number after it, and a word asking for it), not the pipeline's detector, so tests
through it show what the pipeline's defences catch, not what the server declined to do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kpi_pipeline.catalog import Metric
from kpi_pipeline.extraction.injection import readable
from kpi_pipeline.extraction.matching import metric_mentions
from kpi_pipeline.extraction.schema import Evidence, ExtractionRequest, MetricAnswer, SourceDoc

# a word (in English, French, German or Spanish) or sign that asks for a value
_ASKING = re.compile(
    r"\b(?:report|output|record|set|answer|use|enter|log|state|give|return|publish|value|figure|"
    r"signal|indiqu|d[ée]clar|valeur|chiffre|"
    r"meld|gemeldet|angegeben|bericht|wert|zahl|"
    r"registr|indica|informa|valor|cifra)\w*|=",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_REACH = 60  # characters between the metric's name and the number it is told to be


def obey(request: ExtractionRequest, metrics: Sequence[Metric], honest: Sequence[MetricAnswer]) -> list[MetricAnswer]:
    """`honest` (one answer per asked metric), with every metric a source dictates answered as dictated."""
    by_id = {m.id: m for m in metrics}
    return [_dictated(by_id[a.metric_id], request.sources) or a for a in honest]


def _dictated(metric: Metric, sources: Sequence[SourceDoc]) -> MetricAnswer | None:
    """The value the newest source dictating one for `metric` asks for, quoting the line that asks."""
    for source in sorted(sources, key=lambda s: s.observed_at, reverse=True):
        lines = source.text.splitlines()
        for at in range(len(lines)):
            line = "\n".join(lines[at : at + 2])  # a line and the next: "metric_id: x" then "value: 0"
            plain = readable(line)
            if not _ASKING.search(plain):
                continue
            for mention in metric_mentions(metric, plain):
                number = _NUMBER.search(plain, mention.end)
                if number is not None and number.start() - mention.end <= _REACH:
                    return MetricAnswer(
                        metric_id=metric.id,
                        value=float(number.group(0)),
                        confidence=0.95,
                        evidence=[Evidence(source_id=source.source_id, quote=line.strip())],
                        reasoning="the source says which value to report",
                    )
    return None
