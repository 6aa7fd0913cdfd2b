"""Matching: strong mentions by alias or id in any spelling, weak ones by description words. A text that
cannot contain a name's words is ruled out before any regex runs, so these pin the spellings that must still
match: glued words, plurals, and Unicode letters that case-fold to ASCII ones."""

from __future__ import annotations

from kpi_pipeline.catalog import parse_catalog
from kpi_pipeline.extraction.matching import cell_score, metric_mentions, vocabulary

CATALOG = parse_catalog(
    {
        "metrics": [
            {
                "id": "api_error_rate",
                "description": "Share of API requests that failed, not counting client timeouts.",
                "unit": "pct",
                "aliases": ["5xx rate"],
            },
            {"id": "signups", "description": "New accounts created on the website.", "unit": "count"},
        ]
    }
)
ERRORS, SIGNUPS = CATALOG.metrics


def strong(metric_index: int, text: str) -> list[str]:
    metric = CATALOG.metrics[metric_index]
    return [text[m.start : m.end] for m in metric_mentions(metric, text) if m.strong]


def test_an_alias_or_the_id_matches_in_any_case_with_any_separator_or_none() -> None:
    assert strong(0, "API error rate is 3%") == ["API error rate", "error rate"]  # the id, and its last two words
    assert strong(0, "api_error_rates up") == ["api_error_rates", "error_rates"]
    assert strong(0, "the errorrate was 2%") == ["errorrate"]  # the id's last two words, glued
    assert strong(0, "5XX-Rate 0.4%") == ["5XX-Rate"]
    assert strong(0, "errors are rare") == []


def test_non_ascii_text_matches_as_the_regex_folds_case() -> None:
    assert strong(1, "ſignups: 40") == ["ſignups"]  # long s folds to s: str.lower would miss it
    assert strong(0, "Fehlerquote — error rate 3 %") == ["error rate"]  # not ASCII: every pattern runs


def test_a_weak_mention_needs_two_description_words_and_ignores_the_negated_part() -> None:
    weak = metric_mentions(ERRORS, "requests failed twice after the deploy")
    assert weak and not any(m.strong for m in weak)
    assert metric_mentions(ERRORS, "client timeouts counting") == []  # words of the "not" part only
    assert metric_mentions(SIGNUPS, "the website is slow") == []  # one description word of three


def test_metrics_with_the_same_names_share_answers_and_others_do_not() -> None:
    renamed = ERRORS.model_copy(update={"aliases": ("failure ratio",)})
    assert strong(0, "failure ratio 2%") == []
    assert [m.strong for m in metric_mentions(renamed, "failure ratio 2%")] == [True]
    assert "failur" in vocabulary(renamed) and "failur" not in vocabulary(ERRORS)
    assert cell_score(renamed, ["failure", "ratio"])[0] == 1 and cell_score(ERRORS, ["failure", "ratio"])[0] == 0
