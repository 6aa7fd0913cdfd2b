"""Matching: strong mentions by alias or id in any spelling, weak ones by description words. A text that
cannot contain a name's words is ruled out before any regex runs, so these pin the spellings that must still
match: glued words, plurals, and Unicode letters that case-fold to ASCII ones."""

from __future__ import annotations

from kpi_pipeline.catalog import parse_catalog
from kpi_pipeline.extraction.matching import (
    cell_score,
    metric_mentions,
    name_index,
    names_metric,
    text_names,
    vocabulary,
)

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


def test_a_text_matched_against_many_metrics_at_once_finds_what_each_metric_alone_finds() -> None:
    catalog = parse_catalog(
        {
            "metrics": [
                *(
                    {"id": m.id, "description": m.description, "unit": m.unit, "aliases": m.aliases}
                    for m in CATALOG.metrics
                ),
                {"id": "trial_upgrades", "description": "Trials upgraded to paid", "unit": "pct", "aliases": ["trial"]},
                {"id": "trials_started", "description": "Trials started", "unit": "count", "aliases": ["trials"]},
                {"id": "failed_requests", "description": "d", "unit": "count", "aliases": ["requests failed"]},
            ]
        }
    )
    index = name_index(catalog.metrics)
    texts = [
        "trials: 40",  # the longest first word found here is "trials", and "trial" matches here too
        "API error rate is 3%, ſignups 40",
        "requests failed twice after the deploy",  # a weak mention of one metric, a strong one of another
        "| created | accounts | website |",  # all words of no name, the description's words of signups
        "| rate | error |",  # all words of a name, in another order
        "lunch?",
    ]
    for text in texts:
        found = text_names(index, text)
        for position, metric in enumerate(catalog.metrics):
            assert list(found.mentions.get(position, ())) == metric_mentions(metric, text), (text, metric.id)
            assert (position in found.named) == names_metric(metric, text), (text, metric.id)
    assert set(text_names(index, texts[0]).mentions) == {2, 3}
