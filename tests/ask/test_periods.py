"""Days and periods in a question, relative to the `today` the caller gives."""

from __future__ import annotations

from datetime import date

import pytest

from kpi_pipeline.ask.periods import Period, PeriodError, find_days, find_period

TODAY = date(2026, 10, 1)  # a Thursday


@pytest.mark.parametrize(
    ("question", "days"),
    [
        ("error rate on 2026-07-02", [date(2026, 7, 2)]),
        ("error rate on July 2", [date(2026, 7, 2)]),
        ("error rate on 2 Jul 2025", [date(2025, 7, 2)]),
        ("error rate yesterday", [date(2026, 9, 30)]),
        ("between 2026-07-09 and July 2", [date(2026, 7, 9), date(2026, 7, 2)]),
        ("on December 3", [date(2025, 12, 3)]),  # the latest December 3 not after today
    ],
)
def test_days(question: str, days: list[date]) -> None:
    assert find_days(question, TODAY) == days


@pytest.mark.parametrize(
    ("question", "period"),
    [
        ("between 2026-07-09 and 2026-07-02", Period(date(2026, 7, 2), date(2026, 7, 9), "2026-07-02..2026-07-09")),
        ("what moved last week", Period(date(2026, 9, 21), date(2026, 9, 27), "last week (2026-09-21..2026-09-27)")),
        ("what moved this week", Period(date(2026, 9, 28), date(2026, 10, 1), "this week (2026-09-28..2026-10-01)")),
        ("the past 7 days", Period(date(2026, 9, 25), date(2026, 10, 1), "the last 7 days (2026-09-25..2026-10-01)")),
        ("trend in 2026-Q3", Period(date(2026, 7, 1), date(2026, 9, 30), "2026-Q3")),
        ("trend in Q2 2026", Period(date(2026, 4, 1), date(2026, 6, 30), "2026-Q2")),
        ("trend in July", Period(date(2026, 7, 1), date(2026, 7, 31), "July 2026")),
        ("trend during feb 2024", Period(date(2024, 2, 1), date(2024, 2, 29), "February 2024")),
    ],
)
def test_periods(question: str, period: Period) -> None:
    assert find_period(question, TODAY) == period


def test_no_period_in_a_question_about_one_day() -> None:
    assert find_period("error rate on 2026-07-02", TODAY) is None


def test_a_day_that_does_not_exist_is_refused_with_what_was_written() -> None:
    with pytest.raises(PeriodError, match="'2026-02-30' is not a date"):
        find_days("nps on 2026-02-30", TODAY)
