"""The period a reading describes, resolved from the text against the time its source was written.

"Checkout conversion yesterday: 3.4%" written on July 4 describes July 3; "last week finished at 3.1%" the
Monday-to-Sunday week before; "MTTR over the past 30 days" the 30 days ending on the day it was written. A
phrase is resolved against the source's own day, never the partition's or today's, so a backfill resolves
the same text the same way. Nothing a source says can describe a time after it was written: every period
ends on the reported day at the latest ("this week" on a Wednesday is Monday to Wednesday).

Without a phrase a reading describes the metric's window ending on the reported day (`default_period`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from kpi_pipeline.catalog import Metric

MAX_GAP_CHARS = 40  # a phrase further from the number than this belongs to something else in the sentence


@dataclass(frozen=True)
class Period:
    start: date
    end: date


def _clamped(start: date, end: date, reported: date) -> Period:
    return Period(min(start, reported), min(end, reported))


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _month(year: int, month: int) -> tuple[date, date]:
    start = date(year, month, 1)
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return start, following - timedelta(days=1)


def _quarter(year: int, q: int) -> tuple[date, date]:
    return _month(year, 3 * q - 2)[0], _month(year, 3 * q)[1]


def _latest_year(month: int, day: int, reported: date) -> int:
    """A date written without its year is the latest one not after the report."""
    return reported.year if (month, day) <= (reported.month, reported.day) else reported.year - 1


def default_period(metric: Metric, reported: date) -> Period:
    """The metric's window ending on the reported day: what a reading with no time phrase describes."""
    window = metric.window if metric.kind == "flow" else None
    if window == "week":
        return Period(_monday(reported), reported)
    if window == "month":
        return Period(reported.replace(day=1), reported)
    if window == "quarter":
        return Period(_quarter(reported.year, (reported.month - 1) // 3 + 1)[0], reported)
    if window == "rolling_7d":
        return Period(reported - timedelta(days=6), reported)
    if window == "rolling_30d":
        return Period(reported - timedelta(days=29), reported)
    return Period(reported, reported)  # a snapshot, or a daily flow


MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNITS = {"day": 1, "days": 1, "week": 7, "weeks": 7}

Resolver = Callable[[re.Match[str], date], Period | None]


def _day_of(match: re.Match[str], reported: date) -> Period:
    return Period(reported, reported)


def _yesterday(match: re.Match[str], reported: date) -> Period:
    day = reported - timedelta(days=1)
    return Period(day, day)


def _weekday(match: re.Match[str], reported: date) -> Period:
    back = (reported.weekday() - _WEEKDAYS.index(match["weekday"].lower())) % 7
    if match["last"] and back == 0:
        back = 7
    day = reported - timedelta(days=back)
    return Period(day, day)


def _week(match: re.Match[str], reported: date) -> Period:
    monday = _monday(reported)
    if match["which"].lower() == "this":
        return Period(monday, reported)
    return Period(monday - timedelta(days=7), monday - timedelta(days=1))


def _calendar_month(match: re.Match[str], reported: date) -> Period:
    if match["which"].lower() == "this":
        return Period(reported.replace(day=1), reported)
    previous = reported.replace(day=1) - timedelta(days=1)
    return Period(*_month(previous.year, previous.month))


def _calendar_quarter(match: re.Match[str], reported: date) -> Period:
    q = (reported.month - 1) // 3 + 1
    if match["which"].lower() == "this":
        return Period(_quarter(reported.year, q)[0], reported)
    year, q = (reported.year - 1, 4) if q == 1 else (reported.year, q - 1)
    return Period(*_quarter(year, q))


def _named_quarter(match: re.Match[str], reported: date) -> Period | None:
    q = int(match["q"])
    year = int(match["year"]) if match["year"] else reported.year
    start, end = _quarter(year, q)
    if not match["year"] and start > reported:
        start, end = _quarter(year - 1, q)
    return _clamped(start, end, reported) if start <= reported else None


def _named_month(match: re.Match[str], reported: date) -> Period | None:
    month = MONTHS[match["month"].lower()]
    year = int(match["year"]) if match["year"] else _latest_year(month, 1, reported)
    start, end = _month(year, month)
    return _clamped(start, end, reported) if start <= reported else None


def _iso_date(match: re.Match[str], reported: date) -> Period | None:
    try:
        day = date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        return None
    return Period(day, day) if day <= reported else None


def _written_date(match: re.Match[str], reported: date) -> Period | None:
    month, number = MONTHS[match["month"].lower()], int(match["day"])
    year = int(match["year"]) if match["year"] else _latest_year(month, number, reported)
    try:
        day = date(year, month, number)
    except ValueError:
        return None
    return Period(day, day) if day <= reported else None


def _trailing(match: re.Match[str], reported: date) -> Period:
    count = int(match["n"]) if match["n"] else 1
    days = max(1, count * _UNITS[match["unit"].lower()])
    return Period(reported - timedelta(days=days - 1), reported)


# most specific first: the first pattern that matches a span wins it
PHRASES: tuple[tuple[re.Pattern[str], Resolver], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), resolver)
    for pattern, resolver in (
        (r"\b(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})\b", _iso_date),
        (
            rf"\b(?P<month>{_MONTH})\.?\s+(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\b(?!\s*(?:%|percent))"
            r"(?:,?\s+(?P<year>20\d\d))?",
            _written_date,
        ),
        (rf"\b(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\s+(?P<month>{_MONTH})\b\.?(?:,?\s+(?P<year>20\d\d))?", _written_date),
        (
            r"\b(?:(?:past|last|trailing|rolling|previous)\s+(?P<n>\d{1,3})\s*-?\s*|(?:past|trailing|rolling)\s+)"
            r"(?P<unit>days?|weeks?)\b",
            _trailing,
        ),
        (
            r"\b(?:as of|at)\s+(?:(?:[01]?\d|2[0-3])[:.h][0-5]\d\b(?!\s*(?:%|percent))|(?:noon|midnight|now)\b)",
            _day_of,
        ),
        (r"\b(?:today|tonight|this (?:morning|afternoon|evening)|so far today|right now)\b", _day_of),
        (r"\byesterday\b", _yesterday),
        (rf"\b(?:(?P<last>last|previous)\s+|on\s+)(?P<weekday>{'|'.join(_WEEKDAYS)})\b", _weekday),
        (r"\b(?P<which>this|last|previous)\s+week\b", _week),
        (r"\b(?P<which>this|last|previous)\s+month\b", _calendar_month),
        (r"\b(?P<which>this|last|previous)\s+quarter\b", _calendar_quarter),
        (r"\bQ(?P<q>[1-4])(?:\s*(?P<year>20\d\d))?\b", _named_quarter),
        (rf"\b(?:in|during|for|throughout|over|of)\s+(?P<month>{_MONTH}|may)\b(?:\s+(?P<year>20\d\d))?", _named_month),
    )
)


@dataclass(frozen=True)
class Phrase:
    start: int
    end: int
    period: Period


def phrases(text: str, reported: date) -> list[Phrase]:
    """Every time phrase of `text` that resolves against `reported`, in text order, none overlapping."""
    found: list[Phrase] = []
    for pattern, resolver in PHRASES:
        for match in pattern.finditer(text):
            if any(match.start() < p.end and p.start < match.end() for p in found):
                continue
            period = resolver(match, reported)
            if period is not None:
                found.append(Phrase(match.start(), match.end(), period))
    return sorted(found, key=lambda p: p.start)


# between a phrase and the number: another number, or a word that starts another statement ("..., now 2.9")
_SEPARATES = re.compile(
    r"\d|[.;!?](?:\s|$)|\b(?:now|currently|but|vs|versus|compared|while|whereas|and then)\b", re.IGNORECASE
)


def _gaps(text: str, phrase: Phrase, start: int, end: int) -> Iterator[str]:
    """The text between the phrase and the number. A phrase after the number speaks of it only within its
    clause: "2.9%, last week it was 3.1%" starts a new one."""
    if phrase.end <= start:
        yield text[phrase.end : start]
    elif phrase.start >= end and not re.search(r"[,(]", text[end : phrase.start]):
        yield text[end : phrase.start]


def period_near(text: str, start: int, end: int, reported: date) -> Period | None:
    """The period of the number at `text[start:end]`: the nearest time phrase that speaks of it (nothing that
    starts another statement between them, at most MAX_GAP_CHARS away), else None."""
    best: tuple[int, Period] | None = None
    for phrase in phrases(text, reported):
        if phrase.start < end and start < phrase.end:
            continue  # the number is part of the phrase ("2026-07-03", "past 7 days")
        for gap in _gaps(text, phrase, start, end):
            if len(gap) <= MAX_GAP_CHARS and not _SEPARATES.search(gap) and (best is None or len(gap) < best[0]):
                best = (len(gap), phrase.period)
    return best[1] if best else None


def resolve(text: str, start: int, end: int, metric: Metric, reported: date) -> Period:
    """The period the number at `text[start:end]` describes: from the text, else the metric's window."""
    return period_near(text, start, end, reported) or default_period(metric, reported)
