"""The offline answerer: a fixed set of question shapes answered deterministically from the published tables.

Each shape (docs/ask.md lists them with examples) recognises its question by its words, the metrics and
objectives it names (ask/names.py) and its days (ask/periods.py). Every number it writes comes from a
published fact and carries that fact's (metric, day) and first quote; anything else is "not in the data".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from kpi_pipeline.ask.answer import Answer, Cited, not_in_data, number
from kpi_pipeline.ask.data import Fact, KeyResultDay, KpiData
from kpi_pipeline.ask.names import metrics_named, objective_named
from kpi_pipeline.ask.periods import Period, find_days, find_period
from kpi_pipeline.catalog import Metric


@dataclass(frozen=True)
class Question:
    text: str
    lowered: str
    metrics: list[str]
    days: list[date]
    period: Period | None
    objective: str | None
    today: date

    def has(self, pattern: str) -> bool:
        return re.search(pattern, self.lowered) is not None


def answer_offline(question: str, data: KpiData, metrics: Sequence[Metric], today: date) -> Answer:
    """The answer of the first shape that recognises the question, else "not in the data"."""
    q = Question(
        question,
        question.lower(),
        metrics_named(question, metrics),
        find_days(question, today),
        find_period(question, today),
        objective_named(question, data.objective_titles),
        today,
    )
    for recognises, shape in SHAPES:
        if recognises(q):
            return shape(q, data)
    if not q.metrics:
        return not_in_data("the question names no published metric or objective, or is not a shape ask answers")
    return not_in_data("ask answers the question shapes in docs/ask.md; this is not one of them")


# -- shapes -----------------------------------------------------------------------------------------------


def list_metrics(q: Question, data: KpiData) -> Answer:
    lines = [f"{len(data.metrics)} metrics are published:"]
    lines += [f"- {m.metric_id} ({m.unit}): {m.description}" for m in data.metrics.values()]
    return Answer("\n".join(lines), True, "list_metrics")


def key_results_off_track(q: Question, data: KpiData) -> Answer:
    wanted = {"off_track"} if q.has(r"off[ -]track") and not q.has(r"at[ -]risk") else {"off_track", "at_risk"}
    if q.has(r"at[ -]risk") and not q.has(r"off[ -]track"):
        wanted = {"at_risk"}
    latest = _latest_key_results(data, q.days[0] if q.days else None, q.objective)
    if not latest:
        return not_in_data("no key result has a published value yet", "off_track")
    cited = Cited()
    label = " or ".join(sorted(wanted)).replace("_", " ")
    hits = [kr for kr in latest if kr.status in wanted]
    as_of = max(kr.day for kr in latest)
    if not hits:
        return cited.answer([f"No key result is {label} as of {as_of}."], "off_track")
    lines = [f"{len(hits)} key result(s) {label} as of {as_of}:"]
    lines += [_key_result_line(kr, data, cited) for kr in hits]
    return cited.answer(lines, "off_track")


def objective_progress(q: Question, data: KpiData) -> Answer:
    assert q.objective is not None
    latest = _latest_key_results(data, q.days[0] if q.days else None, q.objective)
    if not latest:
        return not_in_data(f"objective {q.objective} has no key result with a published value", "objective_progress")
    cited = Cited()
    title = data.objective_titles.get(q.objective, q.objective)
    lines = [f"{q.objective} ({title}), as of {max(kr.day for kr in latest)}:"]
    lines += [_key_result_line(kr, data, cited) for kr in latest]
    return cited.answer(lines, "objective_progress")


def conflicts(q: Question, data: KpiData) -> Answer:
    period = _period_or_day(q, data)
    if period is None:
        return not_in_data("nothing is published yet", "conflicts")
    facts = [f for f in data.facts.values() if f.status == "conflict" and period.first <= f.day <= period.last]
    if q.metrics:
        facts = [f for f in facts if f.metric_id in q.metrics]
    cited = Cited()
    if not facts:
        return cited.answer([f"No published value had conflicting sources in {period.label}."], "conflicts")
    lines = [f"{len(facts)} published value(s) had sources that disagreed in {period.label}:"]
    for fact in sorted(facts, key=lambda f: (f.day, f.metric_id)):
        unit = data.metrics[fact.metric_id].unit if fact.metric_id in data.metrics else ""
        lines.append(f"- {fact.metric_id} on {fact.day}: published {cited.value(fact, unit)}")
    return cited.answer(lines, "conflicts")


def held_back(q: Question, data: KpiData) -> Answer:
    period = _period_or_day(q, data)
    if period is None:
        return not_in_data("nothing is published yet", "held_back")
    rows = [h for h in data.held_back if period.first <= h.day <= period.last]
    if q.metrics:
        rows = [h for h in rows if h.metric_id in q.metrics]
    if not rows:
        return Answer(f"Nothing was held back by the quality gate in {period.label}.", True, "held_back")
    lines = [f"{len(rows)} value(s) held back by the quality gate in {period.label}, by the rules they failed:"]
    lines += [f"- {h.metric_id} on {h.day}: {', '.join(_rules(h.reasons))}" for h in rows]
    lines.append("Their numbers are not published; kpi.metric_quarantine has them with each reason, for review.")
    return Answer("\n".join(lines), True, "held_back")


def moved_most(q: Question, data: KpiData) -> Answer:
    period = q.period or _week_of(q.today)
    moves = []
    for metric_id in q.metrics or list(data.metrics):
        series = data.series(metric_id, period.first, period.last)
        if len(series) >= 2 and series[0].value != 0:
            first, last = series[0], series[-1]
            moves.append((abs(last.value - first.value) / abs(first.value), first, last))
    if not moves:
        return not_in_data(f"no metric has two published values in {period.label}", "moved_most")
    moves.sort(key=lambda m: (-m[0], m[1].metric_id))
    cited = Cited()
    lines = [f"Largest relative moves in {period.label}:"]
    for share, first, last in moves[:3]:
        unit = data.metrics[first.metric_id].unit
        lines.append(
            f"- {first.metric_id}: {_signed(last.value - first.value)} ({_signed(100 * share * _sign(last, first))}%), "
            f"from {cited.value(first, unit)} to {cited.value(last, unit)}"
        )
    return cited.answer(lines, "moved_most")


def why_changed(q: Question, data: KpiData) -> Answer:
    metric_id = q.metrics[0]
    if len(q.days) >= 2:
        d1, d2 = sorted(q.days[:2])
    else:
        assert q.period is not None
        series = data.series(metric_id, q.period.first, q.period.last)
        if len(series) < 2:
            return not_in_data(f"{metric_id} has fewer than two published values in {q.period.label}", "why_changed")
        d1, d2 = series[0].day, series[-1].day
    before, after = data.facts.get((metric_id, d1)), data.facts.get((metric_id, d2))
    missing = [str(d) for d, f in ((d1, before), (d2, after)) if f is None]
    if before is None or after is None:
        return not_in_data(f"no published value of {metric_id} on {' and '.join(missing)}", "why_changed")
    cited = Cited()
    unit = data.metrics[metric_id].unit
    delta = after.value - before.value
    lines = [
        f"{metric_id} went from {cited.value(before, unit)} to {cited.value(after, unit)}: "
        f"{_signed(delta)} {unit}.".replace(" .", "."),
        f"Behind {d1}: " + _quotes(before),
        f"Behind {d2}: " + _quotes(after),
    ]
    held = [h for h in data.held_back if h.metric_id == metric_id and d1 < h.day < d2]
    if held:
        lines.append("Held back in between: " + "; ".join(f"{h.day} ({', '.join(_rules(h.reasons))})" for h in held))
    return cited.answer(lines, "why_changed")


def source_of(q: Question, data: KpiData) -> Answer:
    metric_id = q.metrics[0]
    fact = _fact_on(data, metric_id, q.days[0]) if q.days else _latest(data, metric_id)
    if isinstance(fact, Answer):
        fact.shape = "source"
        return fact
    cited = Cited()
    lines = [f"{metric_id} on {fact.day} is {cited.value(fact, data.metrics[metric_id].unit)}, from:"]
    lines += [
        f'- {quote.source_type or "source"} {quote.source_id or ""}: "{quote.text}"'
        + (f" <{quote.url}>" if quote.url else "")
        for quote in fact.quotes
    ]
    return cited.answer(lines, "source")


def compare(q: Question, data: KpiData) -> Answer:
    cited = Cited()
    lines = []
    for metric_id in q.metrics[:2]:
        fact = _fact_on(data, metric_id, q.days[0]) if q.days else _latest(data, metric_id)
        if isinstance(fact, Answer):
            fact.shape = "compare"
            return fact
        lines.append(f"- {metric_id} on {fact.day}: {cited.value(fact, data.metrics[metric_id].unit)}")
    return cited.answer(["Compared:", *lines], "compare")


def trend(q: Question, data: KpiData) -> Answer:
    assert q.period is not None
    metric_id = q.metrics[0]
    series = data.series(metric_id, q.period.first, q.period.last)
    if not series:
        return not_in_data(f"no published value of {metric_id} in {q.period.label}", "trend")
    cited = Cited()
    unit = data.metrics[metric_id].unit
    first, last = series[0], series[-1]
    low = min(series, key=lambda f: (f.value, f.day))
    high = max(series, key=lambda f: (f.value, -f.day.toordinal()))
    lines = [
        f"{metric_id} in {q.period.label}: {len(series)} published value(s).",
        f"- first: {cited.value(first, unit)}",
        f"- last: {cited.value(last, unit)}",
        f"- min: {cited.value(low, unit)}",
        f"- max: {cited.value(high, unit)}",
        f"- change first to last: {_signed(last.value - first.value)} {unit}".rstrip(),
    ]
    return cited.answer(lines, "trend")


def value_on(q: Question, data: KpiData) -> Answer:
    metric_id = q.metrics[0]
    fact = _fact_on(data, metric_id, q.days[0])
    if isinstance(fact, Answer):
        fact.shape = "value_on"
        return fact
    cited = Cited()
    return cited.answer([f"{metric_id} on {fact.day}: {cited.value(fact, data.metrics[metric_id].unit)}"], "value_on")


def latest(q: Question, data: KpiData) -> Answer:
    metric_id = q.metrics[0]
    fact = _latest(data, metric_id)
    if isinstance(fact, Answer):
        fact.shape = "latest"
        return fact
    cited = Cited()
    unit = data.metrics[metric_id].unit
    return cited.answer([f"latest {metric_id}: {cited.value(fact, unit)} (published for {fact.day})"], "latest")


SHAPES: list[tuple[Callable[[Question], bool], Callable[[Question, KpiData], Answer]]] = [
    (lambda q: q.has(r"off[ -]track|at[ -]risk|behind (target|plan)"), key_results_off_track),
    (lambda q: q.has(r"conflict|disagree"), conflicts),
    (lambda q: q.has(r"quarantin|held back|hold back|rejected"), held_back),
    (lambda q: q.has(r"\b(which|what) (metrics|kpis) (are|do|does|exist|can)\b") and not q.metrics, list_metrics),
    (lambda q: q.has(r"moved (the )?most|biggest (move|change)|changed (the )?most|largest (move|change)"), moved_most),
    (lambda q: q.has(r"\bwhy\b") and len(q.metrics) == 1 and (len(q.days) >= 2 or q.period is not None), why_changed),
    (lambda q: q.has(r"where .*come from|\bsource|evidence|\bquote|\bcited?\b") and len(q.metrics) == 1, source_of),
    (lambda q: len(q.metrics) >= 2 and q.has(r"\bcompare|\bvs\.?\b|\bversus\b|\band\b"), compare),
    (lambda q: q.objective is not None and not q.metrics, objective_progress),
    (lambda q: len(q.metrics) == 1 and q.period is not None and len(q.days) != 1, trend),
    (lambda q: len(q.metrics) == 1 and len(q.days) == 1, value_on),
    (lambda q: len(q.metrics) == 1 and not q.days and q.period is None, latest),
]


# -- helpers ----------------------------------------------------------------------------------------------


def _fact_on(data: KpiData, metric_id: str, day: date) -> Fact | Answer:
    fact = data.facts.get((metric_id, day))
    if fact is not None:
        return fact
    held = [h for h in data.held_back if h.metric_id == metric_id and h.day == day]
    if held:
        return not_in_data(
            f"no published value of {metric_id} on {day}: the quality gate held it back "
            f"({', '.join(_rules(held[0].reasons))}), so its number is not trusted"
        )
    return not_in_data(f"no published value of {metric_id} on {day}")


def _latest(data: KpiData, metric_id: str) -> Fact | Answer:
    series = data.series(metric_id)
    return series[-1] if series else not_in_data(f"no published value of {metric_id} yet")


def _latest_key_results(data: KpiData, day: date | None, objective: str | None) -> list[KeyResultDay]:
    """Each key result's row on `day` (else its latest day), of one objective when given, with a value."""
    latest: dict[tuple[str, int], KeyResultDay] = {}
    for kr in data.progress:
        if objective and kr.objective_id != objective:
            continue
        if kr.value is None or (day is not None and kr.day > day):
            continue
        latest[(kr.objective_id, kr.key_result_no)] = kr  # rows come ordered by day
    return list(latest.values())


def _key_result_line(kr: KeyResultDay, data: KpiData, cited: Cited) -> str:
    fact = next((f for f in reversed(data.series(kr.metric_id, last=kr.day))), None)
    unit = data.metrics[kr.metric_id].unit if kr.metric_id in data.metrics else ""
    shown = cited.value(fact, unit) if fact else "no published value"
    progress = "?" if kr.progress is None else f"{100 * kr.progress:.0f}%"
    return (
        f"- {kr.objective_id} KR{kr.key_result_no} {kr.metric_id}: {(kr.status or 'unknown').replace('_', ' ')}, "
        f"progress {progress} of the way from {number(kr.baseline)} to {number(kr.target)} "
        f"(expected {100 * kr.expected_progress:.0f}% by {kr.day}); value {shown}"
    )


def _period_or_day(q: Question, data: KpiData) -> Period | None:
    if q.period is not None:
        return q.period
    if q.days:
        return Period(q.days[0], q.days[0], str(q.days[0]))
    last = data.last_day()
    return Period(last, last, str(last)) if last else None


def _week_of(today: date) -> Period:
    monday = today - timedelta(days=today.weekday())
    return Period(monday, today, f"this week ({monday}..{today})")


def _quotes(fact: Fact) -> str:
    if not fact.quotes:
        return "no quote published"
    return "; ".join(f'"{quote.text}"' + (f" <{quote.url}>" if quote.url else "") for quote in fact.quotes)


def _rules(reasons: Sequence[str]) -> list[str]:
    return [reason.split(":", 1)[0] for reason in reasons]


def _signed(value: float) -> str:
    return ("+" if value > 0 else "") + number(round(value, 4))


def _sign(last: Fact, first: Fact) -> int:
    return 1 if last.value >= first.value else -1
