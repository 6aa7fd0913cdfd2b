"""The catalog loads good YAML into models and rejects bad YAML with one message naming file, entry and key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kpi_pipeline.catalog import CatalogError, SourceSelector, load_catalog, parse_catalog, quarter_bounds

BAD = Path(__file__).parent / "catalog_errors"

# file -> fragments the message must contain (besides the file name): the entry and the key at fault
EXPECTED = {
    "bad_id.yaml": ["metric 'API-Error-Rate'", "'id'", "lowercase"],
    "duplicate_id.yaml": ["metric 'api_error_rate'", "'id'", "twice"],
    "unknown_key.yaml": ["metric 'api_error_rate'", "'validaton'", "unknown key"],
    "min_above_max.yaml": ["metric 'api_error_rate'", "'validation'", "greater than max"],
    "bad_quarter.yaml": ["objective 'reliable_api'", "'quarter'", "2026-Q3"],
    "key_result_unknown_metric.yaml": ["objective 'reliable_api'", "key_results.0.metric", "'api_eror_rate'"],
    "unknown_source.yaml": ["metric 'api_error_rate'", "'sources'", "confluence"],
    "confidence_out_of_range.yaml": ["metric 'api_error_rate'", "'min_confidence'", "less than or equal to 1"],
    "missing_unit.yaml": ["metric 'api_error_rate'", "'unit'", "required key is missing"],
    "equal_baseline_target.yaml": ["objective 'reliable_api'", "'key_results.0'", "equal"],
    "unknown_authority.yaml": ["'source_authority'", "email"],
    "not_yaml.yaml": ["line 4", "not valid YAML"],
    "not_utf8.yaml": ["not UTF-8", "byte"],
    "empty.yaml": ["expected a mapping with 'metrics:'"],
    "list_at_top.yaml": ["expected a mapping with 'metrics:'"],
    "alias_without_letter.yaml": ["metric 'api_error_rate'", "'aliases'", "'%'", "no letter or digit"],
    "nan_bound.yaml": ["metric 'api_error_rate'", "'validation.max'", "finite number"],
    "infinite_bound.yaml": ["metric 'api_error_rate'", "'validation.min'", "finite number"],
    "direction_contradicts_key_result.yaml": [
        "objective 'reliable_api'",
        "'key_results.0'",
        "metric 'api_error_rate'",
        "below the baseline",
        "higher_is_better",
    ],
    "key_results_disagree_on_direction.yaml": [
        "metric 'api_error_rate'",
        "'direction'",
        "'reliable_api'",
        "'busy_api'",
        "disagree",
    ],
    "direction_source_written.yaml": ["metric 'api_error_rate'", "'direction_source'", "remove it"],
    "window_on_snapshot.yaml": ["metric 'open_p1_bugs'", "'window'", "snapshot", "kind: flow"],
    "unknown_window.yaml": ["metric 'deploys_per_day'", "'window'", "rolling_7d"],
    "unknown_series_rule.yaml": ["key 'series_rule'", "as_reported", "by_period"],
    "alerts_without_channel.yaml": ["key 'alerts.channel'", "required key is missing"],
    "alerts_unknown_event.yaml": ["key 'alerts.notify.1'", "'off_track', 'at_risk' or 'conflict'"],
}


def test_every_bad_file_is_covered() -> None:
    assert sorted(p.name for p in BAD.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_catalog_names_file_entry_and_key(name: str) -> None:
    with pytest.raises(CatalogError) as caught:
        load_catalog(BAD / name)
    message = str(caught.value)
    assert str(BAD / name) in message
    for fragment in EXPECTED[name]:
        assert fragment in message, f"{fragment!r} missing from: {message}"


@pytest.mark.parametrize(
    "name", ["alias_without_letter.yaml", "nan_bound.yaml", "bad_id.yaml", "unknown_series_rule.yaml"]
)
def test_one_bad_entry_is_one_line_not_also_an_empty_metrics_list(name: str) -> None:
    with pytest.raises(CatalogError) as caught:
        load_catalog(BAD / name)
    assert str(caught.value).count("\n") == 1, str(caught.value)


@pytest.mark.parametrize(
    ("where", "entry"),
    [
        ("key 'min_confidence'", {"min_confidence": float("nan")}),
        ("key 'tolerance'", {"tolerance": float("inf")}),
        ("key 'validation.min'", {"validation": {"min": float("nan")}}),
    ],
)
def test_nan_and_infinity_are_refused_wherever_a_number_goes(where: str, entry: dict[str, object]) -> None:
    data = {"metrics": [{"id": "a", "description": "x", "unit": "count", **entry}]}
    with pytest.raises(CatalogError, match=f"metric 'a', {where}: must be a finite number"):
        parse_catalog(data, "cat.yaml")


def test_nan_key_result_and_authority_are_refused() -> None:
    data = {
        "metrics": [{"id": "a", "description": "x", "unit": "count"}],
        "objectives": [
            {
                "id": "o",
                "title": "O",
                "quarter": "2026-Q3",
                "key_results": [{"metric": "a", "baseline": float("nan"), "target": 1}],
            }
        ],
        "source_authority": {"docs": float("nan")},
    }
    with pytest.raises(CatalogError) as caught:
        parse_catalog(data, "cat.yaml")
    assert "objective 'o', key 'key_results.0.baseline': must be a finite number" in str(caught.value)
    assert "key 'source_authority.docs': must be a finite number" in str(caught.value)


def test_aliases_with_a_letter_or_digit_in_any_script_are_kept() -> None:
    data = {"metrics": [{"id": "a", "description": "x", "unit": "count", "aliases": ["p95", "taux d'échec", "NPS%"]}]}
    assert parse_catalog(data).metric("a").aliases == ("p95", "taux d'échec", "NPS%")


def test_missing_file_says_which_setting_to_fix(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"nowhere\.yaml: catalog file not found; set KPI_CATALOG"):
        load_catalog(tmp_path / "nowhere.yaml")


def test_several_problems_are_reported_together() -> None:
    data = {
        "metrics": [
            {"id": "a", "description": "x", "unit": "count", "min_confidence": 2},
            {"id": "b", "description": "y", "unit": "count", "colour": "red"},
        ]
    }
    with pytest.raises(CatalogError) as caught:
        parse_catalog(data, "cat.yaml")
    assert "metric 'a', key 'min_confidence'" in str(caught.value)
    assert "metric 'b', key 'colour'" in str(caught.value)


def test_good_catalog_gets_defaults(tmp_path: Path) -> None:
    path = tmp_path / "metrics.yaml"
    path.write_text(
        "metrics:\n"
        "  - id: api_error_rate\n"
        "    description: Failed requests in percent\n"
        "    unit: percent\n"
        "    aliases: [error rate]\n"
        "    sources: ['slack:#engineering', 'jira:OPS', 'docs:status/*.md']\n"
        "objectives:\n"
        "  - {id: reliable_api, title: Reliable, quarter: 2026-Q3,\n"
        "     key_results: [{metric: api_error_rate, baseline: 5, target: 1}]}\n",
        encoding="utf-8",
    )
    catalog = load_catalog(path)
    metric = catalog.metric("api_error_rate")
    assert metric.min_confidence == 0.7 and metric.tolerance == 0.02 and not metric.derived
    assert [str(s) for s in metric.sources] == ["slack:engineering", "jira:OPS", "docs:status/*.md"]
    assert metric.source_types == ("slack", "jira", "docs")
    assert catalog.objectives[0].start == date(2026, 7, 1) and catalog.objectives[0].end == date(2026, 9, 30)
    assert catalog.source_authority["docs"] > catalog.source_authority["slack"]
    # a metric that says nothing about time is a snapshot (never summed), published as reported
    assert (metric.kind, metric.window, metric.additivity, metric.series_rule) == (
        "snapshot",
        None,
        "semi_additive",
        "as_reported",
    )
    with pytest.raises(KeyError):
        catalog.metric("nope")


def _time_of(entry: dict[str, object], series_rule: str | None = None) -> tuple[object, ...]:
    data: dict[str, object] = {"metrics": [{"id": "m", "description": "d", "unit": "count", **entry}]}
    if series_rule:
        data["series_rule"] = series_rule
    m = parse_catalog(data).metric("m")
    return m.kind, m.window, m.additivity, m.series_rule


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"kind": "snapshot"}, ("snapshot", None, "semi_additive", "as_reported")),
        ({"kind": "flow"}, ("flow", "day", "additive", "as_reported")),
        ({"kind": "flow", "window": "day"}, ("flow", "day", "additive", "as_reported")),
        ({"kind": "flow", "window": "week"}, ("flow", "week", "non_additive", "as_reported")),
        ({"kind": "flow", "window": "rolling_30d"}, ("flow", "rolling_30d", "non_additive", "as_reported")),
        ({"kind": "flow", "series_rule": "by_period"}, ("flow", "day", "additive", "by_period")),
    ],
)
def test_kind_and_window_decide_additivity(entry: dict[str, object], expected: tuple[object, ...]) -> None:
    assert _time_of(entry) == expected


def test_the_catalog_series_rule_is_the_default_a_metric_may_override() -> None:
    assert _time_of({}, "by_period")[3] == "by_period"
    assert _time_of({"series_rule": "as_reported"}, "by_period")[3] == "as_reported"


def test_selector_parses_narrow_forms() -> None:
    assert SourceSelector.parse("slack:#growth") == SourceSelector(source_type="slack", pattern="growth")
    assert SourceSelector.parse("docs") == SourceSelector(source_type="docs", pattern=None)


@pytest.mark.parametrize(
    ("quarter", "bounds"),
    [("2026-Q1", (date(2026, 1, 1), date(2026, 3, 31))), ("2026-Q4", (date(2026, 10, 1), date(2026, 12, 31)))],
)
def test_quarter_bounds(quarter: str, bounds: tuple[date, date]) -> None:
    assert quarter_bounds(quarter) == bounds


def _direction(metric: dict[str, object], *key_results: tuple[float, float]) -> tuple[str, str]:
    """The resolved direction and its source of metric `m` under objectives holding `key_results`."""
    data: dict[str, object] = {
        "metrics": [{"id": "m", "description": "x", "unit": "count", **metric}],
        "objectives": [
            {
                "id": f"o{n}",
                "title": "t",
                "quarter": "2026-Q3",
                "key_results": [{"metric": "m", "baseline": b, "target": t}],
            }
            for n, (b, t) in enumerate(key_results)
        ],
    }
    m = parse_catalog(data, "cat.yaml").metric("m")
    return m.direction, m.direction_source


@pytest.mark.parametrize(
    ("metric", "key_results", "resolved"),
    [
        ({"direction": "lower_is_better"}, [], ("lower_is_better", "catalog")),
        ({"direction": "higher_is_better"}, [(1, 3)], ("higher_is_better", "catalog")),
        ({}, [(5, 1)], ("lower_is_better", "key_result")),
        ({}, [(5, 1), (4, 2)], ("lower_is_better", "key_result")),
        ({}, [(100, 250)], ("higher_is_better", "key_result")),
        ({}, [], ("unknown", "unknown")),
        ({"direction": "unknown"}, [], ("unknown", "unknown")),
        ({"direction": "unknown"}, [(5, 1)], ("lower_is_better", "key_result")),
    ],
)
def test_direction_comes_from_the_catalog_else_the_key_results_else_is_unknown(
    metric: dict[str, object], key_results: list[tuple[float, float]], resolved: tuple[str, str]
) -> None:
    assert _direction(metric, *key_results) == resolved


def test_a_metric_without_direction_or_key_result_is_never_higher_is_better() -> None:
    catalog = parse_catalog({"metrics": [{"id": "p95_latency_ms", "description": "p95 latency", "unit": "ms"}]})
    assert catalog.metric("p95_latency_ms").direction == "unknown"


def test_a_key_result_contradicting_an_explicit_lower_is_better_names_objective_and_metric() -> None:
    with pytest.raises(CatalogError) as caught:
        _direction({"direction": "lower_is_better"}, (5, 1), (1, 3))
    message = str(caught.value)
    assert "cat.yaml: objective 'o1', key 'key_results.0'" in message
    assert "metric 'm'" in message and "above the baseline" in message and "lower_is_better" in message
    assert message.count("\n") == 1, message


def test_disagreeing_key_results_name_every_objective_on_each_side() -> None:
    with pytest.raises(CatalogError) as caught:
        _direction({}, (5, 1), (1, 3), (6, 2))
    message = str(caught.value)
    assert "cat.yaml: metric 'm', key 'direction'" in message
    assert "'o0', 'o2'" in message and "'o1'" in message


def test_a_directly_built_metric_records_where_its_direction_came_from() -> None:
    from kpi_pipeline.catalog import Metric

    assert Metric(id="a", description="x", unit="count").direction_source == "unknown"
    assert Metric(id="a", description="x", unit="count", direction="lower_is_better").direction_source == "catalog"


def test_alerts_are_optional_and_leave_the_catalog_version_alone() -> None:
    from kpi_pipeline.catalog import catalog_version, parse_catalog

    plain = {"metrics": [{"id": "api_error_rate", "description": "Failed requests", "unit": "percent"}]}
    alerted = parse_catalog({**plain, "alerts": {"channel": "#kpi-alerts", "notify": "conflict"}})
    assert parse_catalog(plain).alerts is None
    assert alerted.alerts is not None and alerted.alerts.notify == ("conflict",)
    assert alerted.alerts.min_conflict_gap == 0.0
    # alerts change nothing that is extracted, so adding them must not make every day stale
    assert catalog_version(alerted) == catalog_version(parse_catalog(plain))
