"""The reading plan: which metric-days carry a reading, in which sources, in which words, and the true value.

Truth follows what a careful analyst would publish: the most authoritative source of the day (docs > jira >
slack), a later correction over the original, and nothing at all for out-of-range, hedged, ungrounded or
instruction-laden mentions. The plan depends on the seed and the phrasing set, never on the scale.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from kpi_pipeline.demo.company import Company
from kpi_pipeline.demo.kpis import KPIS, QUARTER_DAYS, KpiDef, demo_days, snap, true_series
from kpi_pipeline.demo.phrasing import PhrasingSet, words_for

AUTHORITY = ("docs", "jira", "slack")  # most trusted first
DOC_PLACES = ("status", "review", "survey", "postmortem")
# per quarter (92 days); a longer span gets as many per 92 days
INCIDENTS = 6
CORRECTIONS = 4
CONFLICTS = 4
# (case, metric): the metric-days whose only mention must be held back by the quality gate
BAD_CASES = (
    ("injection", "uptime_percent"),
    ("out_of_range", "api_error_rate"),
    ("out_of_range", "nps"),
    ("hedged", "api_error_rate"),
    ("hedged", "p95_latency_ms"),
    ("hedged", "signup_conversion"),
    ("ungrounded", "api_error_rate"),
    ("ungrounded", "signup_conversion"),
    ("ungrounded", "p95_latency_ms"),
)


@dataclass(frozen=True)
class Statement:
    """One planted piece of text. `place` is a Slack channel, a Jira issue key or a doc kind."""

    source_type: str
    place: str
    day: date
    second: int  # seconds after midnight UTC; orders statements of one place and day
    author: str  # Slack user id (Jira and docs map it to the same person)
    text: str
    kind: str  # the template kind the text came from
    question: str | None = None  # Slack: the thread parent this statement replies to
    question_day: date | None = None
    question_second: int = 0


@dataclass(frozen=True)
class Plant:
    """Everything planted for one metric on one day, and the value that should be published (None: nothing)."""

    day: date
    metric_id: str
    case: str  # reading | correction | conflict | injection | out_of_range | hedged | ungrounded
    truth: float | None
    value_text: str | None  # how the true value is written in the statement it comes from
    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class Plan:
    plants: tuple[Plant, ...]
    incident_days: tuple[date, ...]
    doc_days: dict[str, tuple[date, ...]]
    days: tuple[date, ...]  # every day of the dataset, ascending
    kpis: tuple[KpiDef, ...]

    def truth(self) -> dict[tuple[date, str], float | None]:
        table: dict[tuple[date, str], float | None] = {(d, k.id): None for d in self.days for k in self.kpis}
        for p in self.plants:
            table[(p.day, p.metric_id)] = p.truth
        return table


def _business_day(day: date, offset: int) -> date:
    day += timedelta(days=offset)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _doc_days(incidents: list[date], days: Sequence[date]) -> dict[str, tuple[date, ...]]:
    """Weekly status on Fridays, a business review on the first business day of each month after the first and
    on the last day, a survey summary on each month's last day, a postmortem two business days after an incident."""
    last = days[-1]
    postmortems = sorted({_business_day(d, 2) for d in incidents if _business_day(d, 2) <= last})
    month_starts = sorted({d.replace(day=1) for d in days if d.replace(day=1) > days[0]})
    reviews = {_business_day(start, 0) for start in month_starts} | {last}
    return {
        "status": tuple(d for d in days if d.weekday() == 4),
        "review": tuple(sorted(d for d in reviews if d <= last)),
        "survey": tuple(d for d in days if (d + timedelta(days=1)).day == 1),
        "postmortem": tuple(postmortems),
    }


def _per_span(per_quarter: int, days: Sequence[date]) -> int:
    return max(1, round(per_quarter * len(days) / QUARTER_DAYS))


class _Writer:
    """Turns planned values into text with one phrasing set."""

    def __init__(self, phrasing: PhrasingSet, company: Company, rng: random.Random, first_day: date):
        self.phrasing = phrasing
        self.company = company
        self.rng = rng
        self.first_day = first_day  # a thread on the day before it would fall outside the dataset

    def form(self, k: KpiDef, value: float) -> str:
        return self.rng.choice(self.phrasing.value_forms[k.id](value))

    def author(self, k: KpiDef) -> str:
        channel = next(c for c in self.company.channels if c.name == k.channel)
        return self.rng.choice(self.company.regulars(channel)).user_id

    def fill(self, template: str, k: KpiDef, **slots: str) -> str:
        alias = self.rng.choice(self.phrasing.aliases[k.id])
        text = template.format(alias=alias, Alias=alias[0].upper() + alias[1:], **slots)
        return text[0].upper() + text[1:] if template.startswith("{alias}") and self.rng.random() < 0.5 else text

    def slots(self, k: KpiDef, value_text: str, prev: float) -> dict[str, str]:
        return {
            "v": value_text,
            "prev": self.form(k, prev),
            "target": self.form(k, k.target),
            "other": f"{self.rng.randrange(11, 80)}%",
            "change": self.rng.choice(self.phrasing.changes),
        }


def _different(k: KpiDef, value: float, rng: random.Random, low: float, high: float) -> float:
    """A value clearly different from `value` (relative change in [low, high]) on the metric's grain."""
    for _ in range(50):
        factor = 1 + rng.choice((-1, 1)) * rng.uniform(low, high)
        other = snap(value * factor, k.grain)
        if abs(other - value) > max(k.grain, abs(value) * 0.05) and k.min_value <= other <= k.max_value:
            if k.id == "uptime_percent":
                other = min(other, 99.99)
            if other != value:
                return other
    return snap(value + 3 * k.grain, k.grain)


def _time(rng: random.Random, start_hour: int, end_hour: int) -> int:
    return rng.randrange(start_hour * 3600, end_hour * 3600)


def build_plan(
    seed: int,
    phrasing: PhrasingSet,
    company: Company,
    days: Sequence[date] = tuple(demo_days()),
    kpis: Sequence[KpiDef] = KPIS,
) -> Plan:
    weekdays = [d for d in days if d.weekday() < 5]
    rng = random.Random(f"plan:{seed}")  # days and values: the same for every phrasing set
    incidents = sorted(rng.sample(weekdays[3:], _per_span(INCIDENTS, days)))
    doc_days = _doc_days(incidents, days)
    series = {k.id: true_series(k, rng, set(incidents), days) for k in kpis}
    by_id = {k.id: k for k in kpis}

    sources: dict[tuple[str, date], list[tuple[str, str]]] = {}
    for k in kpis:
        for day in days:
            found = [("docs", place) for place in k.doc_places if day in doc_days[place]]
            weekday = day.weekday() < 5
            if k.jira_issue and weekday and rng.random() < k.jira_rate:
                found.append(("jira", k.jira_issue))
            if rng.random() < k.slack_rate * (1.0 if weekday else 0.15):
                found.append(("slack", k.channel))
            if found:
                sources[(k.id, day)] = found

    keys = sorted(sources, key=lambda key: (key[1], key[0]))
    multi = [key for key in keys if len(sources[key]) > 1 and any(s == "slack" for s, _ in sources[key])]
    slack_only = [key for key in keys if [s for s, _ in sources[key]] == ["slack"]]
    conflicts = set(rng.sample(multi, min(_per_span(CONFLICTS, days), len(multi))))
    corrections = set(rng.sample(slack_only, _per_span(CORRECTIONS, days)))
    bad: dict[tuple[str, date], str] = {}
    for case, metric_id in BAD_CASES:
        free = [d for d in weekdays if (metric_id, d) not in sources and (metric_id, d) not in bad]
        bad[(metric_id, rng.choice(free))] = case

    writer = _Writer(phrasing, company, random.Random(f"text:{seed}:{phrasing.name}"), days[0])
    plants: list[Plant] = []
    last_value: dict[str, float] = {}
    for key in keys:
        metric_id, day = key
        k = by_id[metric_id]
        value = series[metric_id][day]
        week_ago = series[metric_id].get(day - timedelta(days=7), k.start) if day.day > 7 else k.start
        prev = last_value.get(metric_id, week_ago)
        if snap(prev, k.grain) == value:
            prev = _different(k, value, rng, 0.05, 0.15)
        case = "conflict" if key in conflicts else "correction" if key in corrections else "reading"
        plants.append(_reading(writer, rng, k, day, value, prev, sources[key], case))
        last_value[metric_id] = value
    for (metric_id, day), case in sorted(bad.items(), key=lambda item: (item[0][1], item[0][0])):
        k = by_id[metric_id]
        plants.append(_bad_case(writer, k, day, series[metric_id][day], case))
    plants.sort(key=lambda p: (p.day, p.metric_id))
    return Plan(tuple(plants), tuple(incidents), doc_days, tuple(days), tuple(kpis))


def _reading(
    writer: _Writer,
    rng: random.Random,
    k: KpiDef,
    day: date,
    value: float,
    prev: float,
    sources: list[tuple[str, str]],
    case: str,
) -> Plant:
    """The statements of a metric-day with a true reading; truth comes from the most authoritative source."""
    phrasing, pick = writer.phrasing, writer.rng
    truth_text: dict[str, str] = {}
    statements: list[Statement] = []
    for source_type, place in sources:
        stated = _different(k, value, rng, 0.08, 0.2) if case == "conflict" and source_type == "slack" else value
        value_text = writer.form(k, stated)
        slots = writer.slots(k, value_text, prev)
        if source_type == "docs":
            kind = pick.choices(("plain", "prev", "target"), (6, 2, 2))[0]
            text = writer.fill(pick.choice(phrasing.docs[kind]), k, **slots)
            statements.append(Statement("docs", place, day, 0, writer.author(k), text, kind))
        elif source_type == "jira":
            text = writer.fill(pick.choice(phrasing.jira), k, **slots)
            statements.append(Statement("jira", place, day, _time(pick, 9, 18), writer.author(k), text, "comment"))
        else:
            wrong = _different(k, value, rng, 0.15, 0.35) if case == "correction" else None
            statements.extend(_slack_statements(writer, k, day, slots, wrong))
        truth_text.setdefault(source_type, value_text)
    authority = next(s for s in AUTHORITY if s in truth_text)
    return Plant(day, k.id, case, value, truth_text[authority], tuple(statements))


def _slack_statements(
    writer: _Writer, k: KpiDef, day: date, slots: dict[str, str], wrong: float | None
) -> list[Statement]:
    """A person reports the value: plainly, with distractors, as a thread reply, or wrongly and then corrected."""
    phrasing, pick = writer.phrasing, writer.rng
    author = writer.author(k)
    second = _time(pick, 9, 18)
    if wrong is not None:
        wrong_text = writer.form(k, wrong)
        first = writer.fill(pick.choice(phrasing.slack["plain"]), k, **{**slots, "v": wrong_text})
        fix = writer.fill(pick.choice(phrasing.slack["correction"]), k, **{**slots, "wrong": wrong_text})
        return [
            Statement("slack", k.channel, day, second, author, first, "plain"),
            Statement("slack", k.channel, day, second + pick.randrange(600, 3000), author, fix, "correction"),
        ]
    if pick.random() < 0.15:
        on_prev_day = day > writer.first_day and pick.random() < 0.5
        question = writer.fill(pick.choice(phrasing.questions), k, **slots)
        text = writer.fill(pick.choice(phrasing.slack["reply"]), k, **slots)
        if on_prev_day:
            when, asked_day, asked_at = _time(pick, 8, 11), day - timedelta(days=1), _time(pick, 19, 23)
        else:
            when, asked_day, asked_at = second + pick.randrange(300, 3600), day, second
        return [Statement("slack", k.channel, day, when, author, text, "reply", question, asked_day, asked_at)]
    kind = pick.choices(("plain", "from_to", "target", "prev", "other"), (10, 2, 2, 2, 1))[0]
    templates = phrasing.slack[kind] + (phrasing.metric_plain.get(k.id, ()) * 2 if kind == "plain" else ())
    text = writer.fill(pick.choice(templates), k, **slots)
    return [Statement("slack", k.channel, day, second, author, text, kind)]


def _bad_case(writer: _Writer, k: KpiDef, day: date, value: float, case: str) -> Plant:
    """A mention the gate must hold back: its metric-day has no other reading and an empty truth."""
    phrasing, pick = writer.phrasing, writer.rng
    slots = writer.slots(k, writer.form(k, value), value)
    if case == "injection":
        text = phrasing.injection
    elif case == "out_of_range":
        # a slipped decimal point (1.4% typed as 140%), or a score far outside its scale
        slots["v"] = writer.form(k, snap(value * 100, k.grain) if k.max_value == 100 and k.min_value == 0 else 420)
        text = writer.fill(phrasing.slack["plain"][0], k, **slots)
    elif case == "hedged":
        text = writer.fill(pick.choice(phrasing.slack["hedged"]), k, **slots)
    elif k.style == "percent":
        text = writer.fill(phrasing.slack["words"][0], k, words=words_for(k.style, round(value), phrasing.name))
    else:
        text = writer.fill(phrasing.slack["dashboard"][0], k)
    statement = Statement("slack", k.channel, day, _time(pick, 9, 18), writer.author(k), text, case)
    return Plant(day, k.id, case, None, None, (statement,))
