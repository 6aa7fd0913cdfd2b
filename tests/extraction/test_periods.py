"""Time phrases resolve against the source's own day; a reading without one describes its metric's window."""

from __future__ import annotations

from datetime import date

import pytest

from kpi_pipeline.catalog import Metric
from kpi_pipeline.extraction.periods import Period, default_period, period_near, phrases, resolve

SAT = date(2026, 7, 4)  # a Saturday, in Q3
DAILY = Metric(id="conversion", description="Signup conversion", unit="percent", kind="flow")


def _d(text: str) -> date:
    return date.fromisoformat(text)


# text (the number is the first "@" … "@" span), reported day, expected period (start, end) or None
CASES = [
    ("conversion yesterday: @3.4%@", SAT, ("2026-07-03", "2026-07-03")),
    ("conversion today: @3.4%@", SAT, ("2026-07-04", "2026-07-04")),
    ("@3.4%@ this morning", SAT, ("2026-07-04", "2026-07-04")),
    ("open P1s as of 17:00: @4@", SAT, ("2026-07-04", "2026-07-04")),
    ("MRR as of today @970000@", SAT, ("2026-07-04", "2026-07-04")),
    ("this week deploys: @31@", SAT, ("2026-06-29", "2026-07-04")),
    ("last week finished at @3.1%@", SAT, ("2026-06-22", "2026-06-28")),
    ("last month churn was @2.9%@", SAT, ("2026-06-01", "2026-06-30")),
    ("churn this month: @1.2%@", SAT, ("2026-07-01", "2026-07-04")),
    ("signups in September: @340@", date(2026, 10, 2), ("2026-09-01", "2026-09-30")),
    ("signups in September: @340@", SAT, ("2025-09-01", "2025-09-30")),  # no September yet this year
    ("Q2 NPS @41@", SAT, ("2026-04-01", "2026-06-30")),
    ("Q3 so far: NPS @44@", SAT, ("2026-07-01", "2026-07-04")),  # never after the report
    ("last quarter NPS @41@", SAT, ("2026-04-01", "2026-06-30")),
    ("last quarter NPS @41@", date(2026, 2, 1), ("2025-10-01", "2025-12-31")),
    ("2026-07-03: error rate @1.9%@", SAT, ("2026-07-03", "2026-07-03")),
    ("July 3 error rate @1.9%@", SAT, ("2026-07-03", "2026-07-03")),
    ("on 3 July the error rate was @1.9%@", SAT, ("2026-07-03", "2026-07-03")),
    ("Dec 31 error rate @1.9%@", SAT, ("2025-12-31", "2025-12-31")),  # the latest Dec 31 before the report
    ("MTTR over the past 30 days: @67@ min", SAT, ("2026-06-05", "2026-07-04")),
    ("uptime over the past 7 days: @99.9%@", SAT, ("2026-06-28", "2026-07-04")),
    ("uptime, trailing 7-day: @99.9%@", SAT, ("2026-06-28", "2026-07-04")),
    ("deploys on Thursday: @9@", SAT, ("2026-07-02", "2026-07-02")),
    ("deploys last Saturday: @2@", SAT, ("2026-06-27", "2026-06-27")),
    # phrases that speak of another number, or of nothing
    ("error rate was 3.1% yesterday, now @2.9%@", SAT, None),
    ("error rate @2.9%@ today vs 3.1% last week", SAT, ("2026-07-04", "2026-07-04")),
    ("error rate is @2.9%@, last week it was 3.1%", SAT, None),
    ("error rate is @2.9%@", SAT, None),
    ("it may be @2.9%@", SAT, None),  # "may" is a verb here, not the month
    ("2026-07-09: error rate @1.9%@", SAT, None),  # a date after the report describes nothing it can know
    ("yesterday we shipped the new dashboard. Error rate @2.9%@", SAT, None),  # another sentence
]


@pytest.mark.parametrize(("marked", "reported", "expected"), CASES)
def test_a_phrase_resolves_against_the_reported_day(
    marked: str, reported: date, expected: tuple[str, str] | None
) -> None:
    start = marked.index("@")
    end = marked.index("@", start + 1) - 1
    text = marked.replace("@", "")
    want = Period(_d(expected[0]), _d(expected[1])) if expected else None
    assert period_near(text, start, end, reported) == want


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({}, ("2026-07-04", "2026-07-04")),  # a snapshot: the moment it was reported
        ({"kind": "flow"}, ("2026-07-04", "2026-07-04")),
        ({"kind": "flow", "window": "week"}, ("2026-06-29", "2026-07-04")),
        ({"kind": "flow", "window": "month"}, ("2026-07-01", "2026-07-04")),
        ({"kind": "flow", "window": "quarter"}, ("2026-07-01", "2026-07-04")),
        ({"kind": "flow", "window": "rolling_7d"}, ("2026-06-28", "2026-07-04")),
        ({"kind": "flow", "window": "rolling_30d"}, ("2026-06-05", "2026-07-04")),
    ],
)
def test_without_a_phrase_a_reading_is_its_window_ending_on_the_reported_day(
    entry: dict[str, str], expected: tuple[str, str]
) -> None:
    metric = Metric(id="m", description="d", unit="count", **entry)  # type: ignore[arg-type]
    assert default_period(metric, SAT) == Period(_d(expected[0]), _d(expected[1]))


def test_resolve_prefers_the_text_to_the_window() -> None:
    text = "conversion yesterday: 3.4%, today 3.6%"
    assert resolve(text, text.index("3.4"), text.index("3.4") + 4, DAILY, SAT) == Period(
        date(2026, 7, 3), date(2026, 7, 3)
    )
    assert resolve(text, text.index("3.6"), text.index("3.6") + 4, DAILY, SAT) == Period(SAT, SAT)


def test_phrases_do_not_overlap_and_come_in_text_order() -> None:
    found = phrases("over the past 7 days, and last week, and 2026-07-01", SAT)
    assert [p.period.end for p in found] == [SAT, date(2026, 6, 28), date(2026, 7, 1)]
