"""Expectation suites are data: the shipped suite loads whole, and a suite GX would weaken fails loudly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kpi_pipeline.quality.gx_suite import SuiteError, load_suite, suite_path, suites_dir, validate

SHIPPED = suite_path("metric_values")


def _write(path: Path, expectations: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"name": "t", "expectations": expectations}), encoding="utf-8")
    return path


def _not_null(column: str, rule: str = "required", kind: str = "structural") -> dict[str, Any]:
    return {
        "type": "expect_column_values_to_not_be_null",
        "kwargs": {"column": column},
        "meta": {"rule": rule, "kind": kind, "reason": f"{column} is null"},
    }


def test_every_gated_table_has_a_suite_and_every_expectation_survives_loading() -> None:
    assert sorted(p.name for p in suites_dir().glob("*.json")) == ["metric_values.json"]
    in_file = json.loads(SHIPPED.read_text())["expectations"]
    loaded = load_suite(SHIPPED)
    assert len(loaded.suite.expectations) == len(in_file) == len(loaded.rules)
    assert {r.kind for r in loaded.rules} == {"structural", "row"}


def test_shipped_suite_holds_no_per_metric_thresholds() -> None:
    """Thresholds come from the catalog: row rules compare against joined columns, never literal numbers."""
    for expectation in json.loads(SHIPPED.read_text())["expectations"]:
        if expectation["type"].startswith("expect_column_pair"):
            assert {"min_confidence", "min_value", "max_value"} & set(expectation["kwargs"].values())


def test_an_expectation_gx_cannot_build_fails_loading_with_the_file_named(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "s.json",
        [
            _not_null("a"),
            {
                "type": "expect_column_values_to_be_purple",
                "kwargs": {"column": "a"},
                "meta": {"rule": "purple", "kind": "row", "reason": "not purple"},
            },
        ],
    )
    with pytest.raises(SuiteError, match=r"s\.json: GX dropped 1 of 2 expectations .*purple"):
        load_suite(path)


def test_bad_kwargs_fail_loading_with_the_file_named(tmp_path: Path) -> None:
    broken = {
        "type": "expect_column_values_to_be_in_set",
        "kwargs": {"value_set": [1]},
        "meta": {"rule": "in_set", "kind": "row", "reason": "r"},
    }
    with pytest.raises(SuiteError, match=r"s\.json: GX rejected the suite: .*column"):
        load_suite(_write(tmp_path / "s.json", [_not_null("a"), broken]))


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        (None, 'has no "meta" object'),
        ({"kind": "row", "reason": "r"}, "meta.rule must name the rule"),
        ({"rule": "x", "kind": "fatal", "reason": "r"}, "meta.kind is 'fatal'"),
        ({"rule": "x", "kind": "row"}, "meta.reason must be a sentence"),
    ],
)
def test_every_expectation_must_say_what_it_means_to_the_gate(tmp_path: Path, meta: Any, message: str) -> None:
    expectation = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}, "meta": meta}
    with pytest.raises(SuiteError, match=message):
        load_suite(_write(tmp_path / "s.json", [expectation]))


def test_rule_names_are_unique(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="repeated: required"):
        load_suite(_write(tmp_path / "s.json", [_not_null("a"), _not_null("b")]))


def test_missing_and_malformed_files_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="not found; set KPI_EXPECTATIONS_DIR"):
        load_suite(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(SuiteError, match=r"bad\.json: not valid JSON \(line 1"):
        load_suite(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[]", encoding="utf-8")
    with pytest.raises(SuiteError, match=r"a GX 1\.x suite"):
        load_suite(tmp_path / "list.json")


def test_validate_reports_the_failing_rows_of_each_rule_in_file_order(tmp_path: Path) -> None:
    loaded = load_suite(_write(tmp_path / "s.json", [_not_null("a", "a_set", "row"), _not_null("b", "b_set")]))
    outcomes = validate(loaded, pd.DataFrame({"a": [1.0, None, None], "b": ["x", "y", "z"]}))
    assert [(o.rule.rule, o.success, o.failed_rows) for o in outcomes] == [
        ("a_set", False, (1, 2)),
        ("b_set", True, ()),
    ]


def test_an_expectation_on_a_missing_column_reports_an_error_not_a_pass(tmp_path: Path) -> None:
    loaded = load_suite(_write(tmp_path / "s.json", [_not_null("gone")]))
    (outcome,) = validate(loaded, pd.DataFrame({"a": [1]}))
    assert not outcome.success
    assert outcome.error is not None and '"gone"' in outcome.error
