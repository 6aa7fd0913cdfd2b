"""KPI_ALLOW_EMPTY parsing and the one-line refusal for a source that no longer yields days it held."""

from __future__ import annotations

from datetime import date

import pytest

from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.sources.vanished import allowed_empty, day_spans, refusal


@pytest.mark.parametrize(
    ("setting", "allowed"),
    [
        (None, set()),
        ("", set()),
        ("slack", {"slack"}),
        (" Docs , jira ", {"docs", "jira"}),
        ("all", {"slack", "jira", "docs"}),
    ],
)
def test_allow_empty_takes_source_names_or_all(setting: str | None, allowed: set[str]) -> None:
    assert allowed_empty(setting) == allowed


def test_an_unknown_name_is_refused_naming_the_setting() -> None:
    with pytest.raises(SourceError, match=r"^KPI_ALLOW_EMPTY='slack,confluence' names no source 'confluence'"):
        allowed_empty("slack,confluence")


def test_days_are_named_as_ranges() -> None:
    days = [date(2026, 7, 3), date(2026, 7, 1), date(2026, 7, 2), date(2026, 7, 9)]
    assert day_spans(days) == "2026-07-01...2026-07-03, 2026-07-09"


def test_the_refusal_names_source_location_table_days_and_override() -> None:
    message = str(refusal("docs", "KPI_DOCS_SOURCE='/srv/docs'", "raw.docs", [date(2026, 7, 1)]))
    assert message.startswith("docs: KPI_DOCS_SOURCE='/srv/docs' yields nothing for 1 day(s) that raw.docs")
    assert "2026-07-01" in message and "KPI_ALLOW_EMPTY=docs" in message and "--allow-empty" in message
    assert "\n" not in message
