"""A metric is asked only of requests whose sources could give it a publishable value, and its cached answer
depends only on the sources that bear on it: adding a metric to the catalog re-bills no other metric."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from kpi_pipeline.catalog import Catalog, load_catalog, parse_catalog
from kpi_pipeline.demo import generate_dataset
from kpi_pipeline.extraction.pipeline import plan_day, source_docs
from kpi_pipeline.extraction.plausibility import bearing_on, narrow
from kpi_pipeline.extraction.prompts import answer_key
from kpi_pipeline.extraction.schema import PROMPT_VERSION, ExtractionRequest, SourceDoc
from kpi_pipeline.orchestration.estimate import raw_days_from_sources
from kpi_pipeline.resources.docs import DocsSource
from kpi_pipeline.resources.jira import JiraSource
from kpi_pipeline.resources.slack import SlackSource

DAY = date(2026, 7, 1)
AT = datetime(2026, 7, 1, 9, tzinfo=UTC)
CATALOG = parse_catalog(
    {
        "metrics": [
            {
                "id": "api_error_rate",
                "description": "Failed API requests",
                "unit": "percent",
                "aliases": ["error rate"],
            },
            {"id": "deploys_per_day", "description": "Production deploys shipped", "unit": "count"},
            {"id": "gross_margin", "description": "Revenue minus cost", "unit": "percent", "derived": True},
            {"id": "pager_pages", "description": "Pages sent", "unit": "count", "sources": ["slack:#oncall"]},
        ]
    }
)
ERRORS = SourceDoc("slack", "slack:C1:1.1", "The error rate was 2.1% today.", AT, channel="ops")
LUNCH = SourceDoc("slack", "slack:C1:1.2", "Lunch is at 12, 40 people signed up.", AT, channel="ops")


def request(
    *sources: SourceDoc, metric_ids: tuple[str, ...] = ("api_error_rate", "deploys_per_day")
) -> ExtractionRequest:
    return ExtractionRequest(DAY, "slack", metric_ids, sources)


def test_a_metric_is_asked_where_a_source_names_it_and_not_where_none_does() -> None:
    narrowed = narrow([request(ERRORS, LUNCH)], CATALOG)
    assert [r.metric_ids for r in narrowed.requests] == [("api_error_rate",)]
    assert narrowed.unnamed == [("slack", ("deploys_per_day",))]  # a count, but no source speaks of deploys


def test_a_metric_is_asked_where_a_table_holds_all_words_of_one_of_its_names() -> None:
    table = SourceDoc("docs", "docs:w27.md@abc", "| metric | value |\n| rate error | 2.1 |", AT)
    narrowed = narrow([ExtractionRequest(DAY, "docs", ("api_error_rate", "deploys_per_day"), (table,))], CATALOG)
    assert [r.metric_ids for r in narrowed.requests] == [("api_error_rate",)]


def test_a_derived_metric_or_one_tied_to_its_sources_by_a_narrowed_selector_is_always_asked() -> None:
    # grounding publishes those without the quote naming the metric, so they are asked whatever the text says
    asked = ("gross_margin", "pager_pages", "api_error_rate")
    narrowed = narrow([request(LUNCH, metric_ids=asked)], CATALOG)
    assert [r.metric_ids for r in narrowed.requests] == [("gross_margin", "pager_pages")]
    jira = narrow([ExtractionRequest(DAY, "jira", ("pager_pages",), (LUNCH,))], CATALOG)
    assert jira.requests == [] and jira.unnamed == [("jira", ("pager_pages",))]


def test_the_sources_bearing_on_a_metric_name_it_or_carry_a_number_in_its_unit() -> None:
    ops = SourceDoc("slack", "slack:C1:1.3", "Ops review moved to Friday.", AT)
    latency = SourceDoc("slack", "slack:C1:1.4", "Checkout p95 latency is 420 ms.", AT)
    assert bearing_on(CATALOG.metric("api_error_rate"), [ERRORS, ops, latency]) == [ERRORS]  # ms is not a percent
    assert bearing_on(CATALOG.metric("deploys_per_day"), [ERRORS, LUNCH, ops]) == [LUNCH]  # 40 fits a count, 2.1% not


def test_narrowing_merges_requests_over_the_same_sources_and_asks_four_metrics_a_call() -> None:
    many = parse_catalog(
        {"metrics": [{"id": f"m{i}", "description": "d", "unit": "count", "aliases": [f"alias{i}"]} for i in range(6)]}
    )
    text = " ".join(f"alias{i} is {i}." for i in range(5))  # names m0..m4, not m5
    source = SourceDoc("slack", "slack:C1:2.1", text, AT)
    split = [request(source, metric_ids=("m0", "m1", "m5")), request(source, metric_ids=("m2", "m3", "m4"))]
    narrowed = narrow(split, many)
    assert [r.metric_ids for r in narrowed.requests] == [("m0", "m1", "m2", "m3"), ("m4",)]
    assert all(r.sources == (source,) for r in narrowed.requests)
    assert narrowed.unnamed == [("slack", ("m5",))]


def test_requests_over_different_sources_stay_apart() -> None:
    narrowed = narrow([request(ERRORS, metric_ids=("api_error_rate",)), request(ERRORS, LUNCH)], CATALOG)
    assert [(r.metric_ids, len(r.sources)) for r in narrowed.requests] == [
        (("api_error_rate",), 1),
        (("api_error_rate",), 2),
    ]
    assert narrowed.unnamed == [("slack", ("deploys_per_day",))]


# -- the demo company: adding a metric keeps every other metric's cached answers ------------------------------

NEW_METRIC = {  # plausible for the demo: its sources are the whole of slack and docs, like most demo metrics
    "id": "trial_signups",
    "description": "New free-trial accounts started that day",
    "unit": "count",
    "aliases": ["trial signups", "new trials"],
    "sources": ["slack", "docs"],
    "kind": "flow",
    "window": "day",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Catalog, dict[date, list[SourceDoc]]]:
    data = generate_dataset(tmp_path_factory.mktemp("demo"), seed=7).out_dir
    days = [DAY + timedelta(days=n) for n in range(7)]
    sources = (SlackSource(source=str(data / "slack")), JiraSource(source=str(data / "jira")))
    raw = raw_days_from_sources(*sources, DocsSource(source=str(data / "docs")), days)
    return load_catalog(Path(data) / "metrics.yaml"), {day: source_docs(day, r) for day, r in raw.items()}


def answer_keys(catalog: Catalog, docs: dict[date, list[SourceDoc]], metric_ids: set[str]) -> set[str]:
    return {
        answer_key("claude-sonnet-5-5", PROMPT_VERSION, request, catalog.metric(metric_id))
        for day, day_docs in docs.items()
        for request in plan_day(day, day_docs, catalog)[1].requests
        for metric_id in request.metric_ids
        if metric_id in metric_ids
    }


def with_metric(catalog: Catalog, entry: dict[str, object]) -> Catalog:
    data = catalog.model_dump(mode="json")
    return parse_catalog({**data, "metrics": [*data["metrics"], entry]})


def without(catalog: Catalog, metric_id: str) -> Catalog:
    return catalog.model_copy(update={"metrics": tuple(m for m in catalog.metrics if m.id != metric_id)})


def test_adding_a_new_metric_to_the_demo_catalog_leaves_every_other_metrics_answer_key_unchanged(
    demo: tuple[Catalog, dict[date, list[SourceDoc]]],
) -> None:
    catalog, docs = demo
    before = answer_keys(catalog, docs, set(catalog.metric_ids))
    after = answer_keys(with_metric(catalog, NEW_METRIC), docs, set(catalog.metric_ids))
    assert len(before) > 20 and len(before & after) / len(before) == 1.0


@pytest.mark.parametrize("metric_id", ["api_error_rate", "deploys_per_day", "mrr_usd"])
def test_adding_a_demo_metric_that_widens_the_shared_requests_sources_leaves_the_others_keys_unchanged(
    demo: tuple[Catalog, dict[date, list[SourceDoc]]], metric_id: str
) -> None:
    # these three add sources to the requests they join (before the keys covered every source sent: 73%, 69% and
    # 15% of the others' keys changed); their own keys are new, every other metric's stay
    catalog, docs = demo
    smaller = without(catalog, metric_id)
    others = set(smaller.metric_ids)
    before = answer_keys(smaller, docs, others)
    assert before == answer_keys(catalog, docs, others)
