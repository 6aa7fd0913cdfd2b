"""Numbers in prose: digits with units are numbers, identifiers are not, words only when asked for and marked so;
units convert to the metric's."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi_pipeline.extraction.numbers import convert, find_quantities, metric_unit, values_match


def only(text: str) -> tuple[float, str | None]:
    quantities = find_quantities(text)
    assert len(quantities) == 1, quantities
    return quantities[0].value, quantities[0].unit


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("1.2k", 1200, None),
        ("12,400", 12400, None),
        ("3.4%", 3.4, "percent"),
        ("3.4 percent", 3.4, "percent"),
        ("450 ms", 450, "ms"),
        ("450ms", 450, "ms"),
        ("0.45 s", 0.45, "s"),
        ("$1.2M", 1_200_000, "usd"),
        ("$1.2m", 1_200_000, "usd"),
        ("$480k", 480_000, "usd"),
        ("$1,120,000", 1_120_000, "usd"),
        ("4.1 pp", 4.1, "pp"),
        ("2h 15m", 2.25, "h"),
        ("99.95%", 99.95, "percent"),
        ("-0.5%", -0.5, "percent"),
        ("NPS +31", 31, None),
        ("90 minutes", 90, "min"),
        ("1.5 hours", 1.5, "h"),
        ("3.9 million", 3_900_000, None),
    ],
)
def test_number_and_unit(text: str, value: float, unit: str | None) -> None:
    found_value, found_unit = only(text)
    assert found_value == pytest.approx(value)
    assert found_unit == unit


@pytest.mark.parametrize(
    "text",
    ["three", "error rate is three percent", "PLAT-12", "p95", "v1.2.3", "2026-07-03", "14:30", "#11908", "2026-Q3"],
)
def test_words_and_identifiers_are_not_numbers(text: str) -> None:
    assert find_quantities(text) == []


@pytest.mark.parametrize(
    ("text", "value", "unit", "written"),
    [
        ("error rate is three percent today", 3, "percent", "three percent"),
        ("forty-two ms", 42, "ms", "forty-two ms"),
        ("twelve hundred", 1200, None, "twelve hundred"),
        ("three hundred and five", 305, None, "three hundred and five"),
        ("Nineteen", 19, None, "Nineteen"),
        ("zero open bugs", 0, None, "zero"),
        ("two thousand four hundred users", 2400, None, "two thousand four hundred"),
        ("ninety nine percent", 99, "percent", "ninety nine percent"),
    ],
)
def test_numbers_in_words_when_asked(text: str, value: float, unit: str | None, written: str) -> None:
    (q,) = find_quantities(text, words=True)
    assert (q.value, q.unit, q.text, q.in_words) == (value, unit, written, True)
    assert text[q.start : q.end] == written


@pytest.mark.parametrize("text", ["a hundred things", "someone alone", "a one-off", "hundred", "thousands of them"])
def test_words_that_are_not_numbers(text: str) -> None:
    assert find_quantities(text, words=True) == []


def test_word_numbers_sit_beside_digits_in_order() -> None:
    found = find_quantities("error rate 3%, one of the worst days", words=True)
    assert [(q.value, q.in_words) for q in found] == [(3, False), (1, True)]
    assert [q.text for q in find_quantities("from four percent to two percent", words=True)] == [
        "four percent",
        "two percent",
    ]
    assert [q.superseded for q in find_quantities("from four percent to two percent", words=True)] == [True, False]


def test_from_to_marks_the_old_value() -> None:
    old, new = find_quantities("error rate went from 15% to 3% after the hotfix")
    assert (old.value, old.superseded) == (15, True)
    assert (new.value, new.superseded) == (3, False)
    arrow = find_quantities("p95 520ms -> 480ms")
    assert [q.superseded for q in arrow] == [True, False]


def test_spans_point_at_the_text() -> None:
    text = "uptime 99.95% this week"
    (q,) = find_quantities(text)
    assert text[q.start : q.end] == "99.95%" == q.text


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("0.45 s", "ms", 450),
        ("450 ms", "ms", 450),
        ("1.5 hours", "minutes", 90),
        ("90 minutes", "hours", 1.5),
        ("2h 15m", "minutes", 135),
        ("3.4%", "ratio", 0.034),
        ("3.4%", "percent", 3.4),
        ("12.4k", "count", 12400),
        ("$1.2M", "usd", 1_200_000),
    ],
)
def test_convert_to_metric_unit(text: str, unit: str, expected: float) -> None:
    (q,) = find_quantities(text)
    converted = convert(q, unit)
    assert converted is not None
    assert converted.value == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("450 ms", "percent"),
        ("3.4%", "ms"),
        ("4.1 pp", "percent"),
        ("$5k", "ms"),
        ("EUR 1.2M", "usd"),  # another currency is never converted: the reading abstains or is flagged
        ("€1.2M", "usd"),
        ("970,000 USD", "eur"),
        ("£12k", "usd"),
    ],
)
def test_other_units_do_not_convert(text: str, unit: str) -> None:
    (q,) = find_quantities(text)
    assert convert(q, unit) is None


def test_bare_number_for_a_unit_metric_is_an_assumption() -> None:
    (q,) = find_quantities("error rate 3.1")
    converted = convert(q, "percent")
    assert converted is not None and converted.value == 3.1 and converted.assumption


def test_metric_units_are_understood() -> None:
    assert metric_unit("minutes").family == "time"
    assert metric_unit("percent").family == "percent"
    assert metric_unit("score").family == "count"
    assert metric_unit("usd").family == "usd"
    assert metric_unit("widgets per fortnight").family == "other"


def test_values_match_allows_rounding_noise_only() -> None:
    assert values_match(450.00000000000006, 450)
    assert not values_match(1200, 1234)


def test_real_year_in_review_figures(realdata: Path) -> None:
    text = (realdata / "docs/pypi_blog_incidents_and_reports/2025-12-31-pypi-2025-in-review.md").read_text()
    values = {(q.value, q.unit) for q in find_quantities(text)}
    assert (3_900_000, None) in values  # "**3.9 million** new files"
    assert (52.0, "percent") in values  # "more than **52%** of active users"
    assert (2_560_000_000_000, None) in values  # "**2.56 trillion** total requests"
    assert (9059.0, None) in values  # "**9,059** projects"
    assert (4.0, "h") in values  # "handled within 4 hours"
    assert all(q.value != 2 for q in find_quantities("PEP 541 and 2FA"))  # "2FA" is a word


@pytest.mark.parametrize("text", ["2 hours 15 mınutes", "2 HOURS 15 MİNUTES", "15 mınutes"])
def test_a_unit_spelt_with_a_letter_ignorecase_folds_is_that_unit(text: str) -> None:
    """Dotless and dotted i match "i" in the unit patterns, so the unit they spell is read, not a crash."""
    (quantity,) = find_quantities(text)
    assert quantity.text == text
    assert (quantity.value, quantity.unit) == ((2.25, "h") if "2" in text else (15, "min"))
