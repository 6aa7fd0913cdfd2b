"""Days and periods named in a question: ISO dates, "July 2", "yesterday", "last week", "in July", "2026-Q3".

Relative words are relative to `today` (UTC), which the caller passes, so an answer is reproducible.
Weeks run Monday to Sunday.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS |= {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_MONTH_DAY = re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?", re.IGNORECASE)
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH})\b(?:,?\s+(\d{{4}}))?", re.IGNORECASE)
_QUARTER = re.compile(r"\b(?:(\d{4})[-\s]?Q([1-4])|Q([1-4])(?:\s+(\d{4}))?)\b", re.IGNORECASE)
_MONTH_ONLY = re.compile(rf"\b(?:in|during|for|of|over)\s+({_MONTH})\b(?:\s+(\d{{4}}))?", re.IGNORECASE)
_LAST_DAYS = re.compile(r"\b(?:last|past)\s+(\d{1,3})\s+days\b", re.IGNORECASE)


class PeriodError(ValueError):
    """A date the question names that does not exist (2026-02-30); the message quotes it."""


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    label: str


def _date(year: int, month: int, day: int, written: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise PeriodError(f"{written!r} is not a date") from None


def _year_of(month: int, year: str | None, today: date) -> int:
    """A month without a year is the latest such month not after today."""
    if year:
        return int(year)
    return today.year if month <= today.month else today.year - 1


def find_days(question: str, today: date) -> list[date]:
    """Every day the question names, in the order written."""
    found: list[tuple[int, date]] = []
    for m in _ISO.finditer(question):
        found.append((m.start(), _date(int(m[1]), int(m[2]), int(m[3]), m[0])))
    for m in _MONTH_DAY.finditer(question):
        month = MONTHS[m[1].lower()]
        found.append((m.start(), _date(_year_of(month, m[3], today), month, int(m[2]), m[0])))
    for m in _DAY_MONTH.finditer(question):
        month = MONTHS[m[2].lower()]
        found.append((m.start(), _date(_year_of(month, m[3], today), month, int(m[1]), m[0])))
    lowered = question.lower()
    for word, day in (("yesterday", today - timedelta(days=1)), ("today", today)):
        for m in re.finditer(rf"\b{word}\b", lowered):
            found.append((m.start(), day))
    return [d for _, d in sorted(found, key=lambda item: item[0])]


def find_period(question: str, today: date) -> Period | None:
    """The period the question names, or None: two days, a week, a month, a quarter, the last N days."""
    lowered = question.lower()
    days = find_days(question, today)
    if len(days) >= 2 and re.search(r"\b(between|from)\b", lowered):
        first, last = sorted(days[:2])
        return Period(first, last, f"{first}..{last}")
    monday = today - timedelta(days=today.weekday())
    if re.search(r"\blast week\b", lowered):
        first = monday - timedelta(days=7)
        return Period(first, first + timedelta(days=6), f"last week ({first}..{first + timedelta(days=6)})")
    if re.search(r"\bthis week\b", lowered):
        return Period(monday, today, f"this week ({monday}..{today})")
    if m := _LAST_DAYS.search(question):
        first = today - timedelta(days=int(m[1]) - 1)
        return Period(first, today, f"the last {m[1]} days ({first}..{today})")
    if m := _QUARTER.search(question):
        year = int(m[1] or m[4] or today.year)
        quarter = int(m[2] or m[3])
        first = date(year, 3 * quarter - 2, 1)
        last = date(year, 3 * quarter, calendar.monthrange(year, 3 * quarter)[1])
        return Period(first, last, f"{year}-Q{quarter}")
    if m := _MONTH_ONLY.search(question):
        month = MONTHS[m[1].lower()]
        year = _year_of(month, m[2], today)
        first = date(year, month, 1)
        return Period(
            first, date(year, month, calendar.monthrange(year, month)[1]), f"{calendar.month_name[month]} {year}"
        )
    return None
