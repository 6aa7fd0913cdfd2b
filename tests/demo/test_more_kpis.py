"""The extra KPIs behind `--kpis N`: the demo's 12 first, then 38 more that parse as a catalog and never read
as one another."""

from __future__ import annotations

import random
import re

import pytest

from kpi_pipeline.catalog import parse_catalog
from kpi_pipeline.demo.kpis import KPIS, catalog_dict, demo_days, snap, true_series
from kpi_pipeline.demo.more_kpis import ALL_KPIS, EXTRA_KPIS, HOLDOUT_ALIASES, MAX_KPIS, demo_kpis
from kpi_pipeline.demo.phrasing import HOLDOUT, STANDARD


def test_the_demo_twelve_come_first_and_fifty_is_the_most() -> None:
    assert demo_kpis() == KPIS
    assert demo_kpis(20)[:12] == KPIS
    assert len(demo_kpis(MAX_KPIS)) == MAX_KPIS == 50
    assert len({k.id for k in ALL_KPIS}) == len(ALL_KPIS) == 50
    for bad in (11, 51):
        with pytest.raises(ValueError, match="kpis must be between 12 and 50"):
            demo_kpis(bad)


def test_fifty_kpis_parse_as_a_catalog_with_their_time_semantics() -> None:
    catalog = parse_catalog(catalog_dict(kpis=ALL_KPIS))
    assert catalog.metric_ids == [k.id for k in ALL_KPIS]
    for k in EXTRA_KPIS:
        metric = catalog.metric(k.id)
        assert (metric.unit, metric.aliases, metric.source_types) == (k.unit, k.aliases, k.sources)
        assert k.sources[0] == "slack" and set(k.sources) == {"slack"} | ({"docs"} if k.doc_places else set()) | (
            {"jira"} if k.jira_issue else set()
        )


def _mentions(alias: str, name: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(alias.lower())}(?![\w-])", name.lower()) is not None


@pytest.mark.parametrize("aliases", [STANDARD.aliases, HOLDOUT.aliases], ids=["standard", "holdout"])
def test_no_extra_metric_name_contains_another_metrics_name(aliases: dict[str, tuple[str, ...]]) -> None:
    """A reading of one metric must not also name another: "cash balance" never hides "MRR" or "churn"."""
    extra = {k.id for k in EXTRA_KPIS}
    clashes = [
        (a, b)
        for one, names in aliases.items()
        for other, other_names in aliases.items()
        if one != other and (one in extra or other in extra)
        for a in names
        for b in other_names
        if _mentions(a, b)
    ]
    assert clashes == []


def test_holdout_names_of_the_extra_kpis_share_nothing_with_their_catalog_names() -> None:
    assert set(HOLDOUT_ALIASES) == {k.id for k in EXTRA_KPIS}
    for k in EXTRA_KPIS:
        for standard in k.aliases:
            for holdout in HOLDOUT_ALIASES[k.id]:
                assert standard.lower() not in holdout.lower() and holdout.lower() not in standard.lower()


def test_extra_true_values_sit_on_the_grain_inside_validation_over_a_year() -> None:
    rng = random.Random(3)
    year = demo_days(365)
    for k in EXTRA_KPIS:
        series = true_series(k, rng, set(), year)
        assert list(series) == year
        for value in series.values():
            assert k.min_value <= value <= k.max_value, k.id
            assert snap(value, k.grain) == value
