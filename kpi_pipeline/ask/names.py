"""Which metrics and objectives a question names, by id, alias or description words.

Metrics are matched the way extraction matches them (extraction/matching.py): strong mentions (an alias,
the id as words) win over weak ones (description words). Aliases come from the catalog when the caller
has it; the published `kpi.dim_metric` has ids and descriptions only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kpi_pipeline.ask.data import MetricInfo
from kpi_pipeline.catalog import Metric
from kpi_pipeline.extraction.matching import description_terms, metric_mentions, stem, words_of


def as_catalog_metrics(metrics: Mapping[str, MetricInfo], aliases: Mapping[str, Sequence[str]]) -> list[Metric]:
    return [
        Metric(id=m.metric_id, description=m.description, unit=m.unit, aliases=tuple(aliases.get(m.metric_id, ())))
        for m in metrics.values()
    ]


def metrics_named(question: str, metrics: Sequence[Metric]) -> list[str]:
    """Ids of the metrics the question names, in the order it names them; strong mentions only when any."""
    strong: list[tuple[int, str]] = []
    weak: list[tuple[int, str]] = []
    for metric in metrics:
        mentions = metric_mentions(metric, question)
        if not mentions:
            continue
        first = min(m.start for m in mentions)
        (strong if any(m.strong for m in mentions) else weak).append((first, metric.id))
    chosen = strong or _best_weak(question, weak, metrics)
    return [metric_id for _, metric_id in sorted(chosen)]


def _best_weak(question: str, weak: list[tuple[int, str]], metrics: Sequence[Metric]) -> list[tuple[int, str]]:
    """Among description-word matches, the metrics sharing the most words with the question."""
    if not weak:
        return []
    asked = {stem(w) for w in words_of(question)}
    by_id = {m.id: m for m in metrics}
    score = {mid: len(description_terms(by_id[mid])[0] & asked) for _, mid in weak}
    best = max(score.values())
    return [(pos, mid) for pos, mid in weak if score[mid] == best]


def objective_named(question: str, titles: Mapping[str, str]) -> str | None:
    """The objective named by id or by most of its title's words (at least two)."""
    lowered = question.lower()
    for objective_id in titles:
        if objective_id in lowered or objective_id.replace("_", " ") in lowered:
            return objective_id
    asked = {stem(w) for w in words_of(question) if len(w) > 3}
    scored = []
    for objective_id, title in titles.items():
        words = {stem(w) for w in words_of(title) if len(w) > 3}
        shared = len(words & asked)
        if shared >= min(2, len(words)):
            scored.append((shared, objective_id))
    if not scored:
        return None
    scored.sort(reverse=True)
    if len(scored) > 1 and scored[0][0] == scored[1][0]:
        return None  # two objectives fit equally: naming one would be a guess
    return scored[0][1]
