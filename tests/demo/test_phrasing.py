"""Phrasing sets: every written form states its value exactly, and holdout shares no names or templates."""

from __future__ import annotations

import re

import pytest

from kpi_pipeline.demo.more_kpis import ALL_KPIS
from kpi_pipeline.demo.phrasing import HOLDOUT, STANDARD, PhrasingSet, in_words, num, phrasing_set

UNIT_WORDS = {
    "%": 1,
    "pct": 1,
    "per cent": 1,
    "percent": 1,
    "ms": 1,
    "milliseconds": 1,
    "k": 1e3,
    "K": 1e3,
    "thousand": 1e3,
    "M": 1e6,
    "m": 1e6,
    "million": 1e6,
    "points": 1,
    "min": 1,
    "mins": 1,
    "minutes": 1,
}


def read_value(text: str, unit: str) -> float:
    """An independent reading of a written value, normalized to the metric's unit."""
    match = re.fullmatch(r"(?:US\$|\$|USD |\+)?(-?[\d, ]*\d(?:\.\d+)?) ?([A-Za-z%]+(?: cent)?)?(?: USD)?", text)
    assert match, text
    number = float(match.group(1).replace(",", "").replace(" ", ""))
    suffix = match.group(2) or ""
    if suffix in ("s", "seconds"):
        return number * 1000
    if suffix in ("hours", "hrs", "h"):
        return number * 60
    return number * UNIT_WORDS.get(suffix, 1)


SAMPLES = {
    "percent": (3.4, 0.7, 99.95, 12.0),
    "ms": (450, 480, 365, 1200),
    "big_count": (12400, 15613, 9000),
    "count": (7, 15),
    "score": (42, -5, 0),
    "usd": (980000, 1040000, 1126000),
    "minutes": (47, 90, 96, 150),
}


@pytest.mark.parametrize("phrasing", [STANDARD, HOLDOUT], ids=lambda p: p.name)
def test_every_written_form_reads_back_as_its_value(phrasing: PhrasingSet) -> None:
    for k in ALL_KPIS:
        for value in SAMPLES[k.style]:
            forms = phrasing.value_forms[k.id](value)
            assert forms
            for text in forms:
                assert read_value(text, k.unit) == pytest.approx(value), (k.id, text)


def test_standard_uses_suffixes_and_units_people_write() -> None:
    forms = {text for k in ALL_KPIS for v in SAMPLES[k.style] for text in STANDARD.value_forms[k.id](v)}
    assert {"12.4k", "12,400", "0.45 s", "450 ms", "$1.04M", "$980k", "3.4%", "1.5 hours"} <= forms


def test_holdout_names_share_nothing_with_the_catalog_aliases() -> None:
    for k in ALL_KPIS:
        for standard in STANDARD.aliases[k.id]:
            for holdout in HOLDOUT.aliases[k.id]:
                assert standard.lower() not in holdout.lower() and holdout.lower() not in standard.lower()


def test_holdout_templates_and_formats_differ_from_standard() -> None:
    for kind, templates in HOLDOUT.slack.items():
        assert not set(templates) & set(STANDARD.slack[kind]), kind
    assert not set(HOLDOUT.jira) & set(STANDARD.jira)
    assert HOLDOUT.docs_header != STANDARD.docs_header
    for k in ALL_KPIS:
        for v in SAMPLES[k.style]:
            if k.style != "count":
                assert not set(HOLDOUT.value_forms[k.id](v)) & set(STANDARD.value_forms[k.id](v)), (k.id, v)


def test_numbers_are_written_without_float_noise() -> None:
    assert (num(3.0), num(3.40), num(0.45), num(-0.0)) == ("3", "3.4", "0.45", "0")


def test_numbers_in_words() -> None:
    assert [in_words(n) for n in (3, 14, 40, 73)] == ["three", "fourteen", "forty", "seventy-three"]


def test_unknown_phrasing_set_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="standard, holdout"):
        phrasing_set("casual")
