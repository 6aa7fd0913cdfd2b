"""The reading plan: truth rules, planted bad cases, and phrasing-set independence."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from kpi_pipeline.demo.company import build_company
from kpi_pipeline.demo.kpis import KPIS
from kpi_pipeline.demo.phrasing import HOLDOUT, STANDARD
from kpi_pipeline.demo.plan import BAD_CASES, Plan, build_plan

BY_ID = {k.id: k for k in KPIS}


@pytest.fixture(scope="module")
def standard() -> Plan:
    return build_plan(7, STANDARD, build_company(7, 1))


@pytest.fixture(scope="module")
def holdout() -> Plan:
    return build_plan(11, HOLDOUT, build_company(11, 1))


def test_one_plant_per_metric_day(standard: Plan) -> None:
    counts = Counter((p.day, p.metric_id) for p in standard.plants)
    assert max(counts.values()) == 1


def test_every_kpi_has_readings_on_some_days_only(standard: Plan) -> None:
    truth = standard.truth()
    for k in KPIS:
        values = [v for (_, m), v in truth.items() if m == k.id]
        assert 0 < sum(v is not None for v in values) < len(values), k.id


def test_statements_only_come_from_sources_the_catalog_allows(standard: Plan, holdout: Plan) -> None:
    for plan in (standard, holdout):
        for p in plan.plants:
            assert {s.source_type for s in p.statements} <= set(BY_ID[p.metric_id].sources), p


def test_truth_follows_docs_over_jira_over_slack(standard: Plan) -> None:
    multi = [p for p in standard.plants if len({s.source_type for s in p.statements}) > 1]
    assert multi
    for p in multi:
        assert p.value_text
        best = next(t for t in ("docs", "jira", "slack") if any(s.source_type == t for s in p.statements))
        assert p.value_text in next(s.text for s in p.statements if s.source_type == best)


def test_each_bad_case_is_the_only_mention_of_its_metric_that_day(standard: Plan, holdout: Plan) -> None:
    for plan in (standard, holdout):
        bad = [p for p in plan.plants if p.truth is None]
        assert sorted((p.case, p.metric_id) for p in bad) == sorted(BAD_CASES)
        for p in bad:
            assert len(p.statements) == 1 and p.value_text is None


def test_out_of_range_values_break_the_metric_validation(standard: Plan) -> None:
    for p in (p for p in standard.plants if p.case == "out_of_range"):
        numbers = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", p.statements[0].text)]
        assert any(n > BY_ID[p.metric_id].max_value for n in numbers), p.statements[0].text


def test_ungrounded_mentions_state_no_number_outside_the_metric_name(standard: Plan, holdout: Plan) -> None:
    for plan, phrasing in ((standard, STANDARD), (holdout, HOLDOUT)):
        for p in (p for p in plan.plants if p.case == "ungrounded"):
            text = p.statements[0].text.lower()
            for alias in phrasing.aliases[p.metric_id]:
                text = text.replace(alias.lower(), "")
            assert not re.search(r"\d", text), p.statements[0].text


def test_some_readings_answer_a_question_asked_the_day_before(standard: Plan) -> None:
    replies = [s for p in standard.plants for s in p.statements if s.question]
    assert any(s.question_day and s.question_day < s.day for s in replies)


def test_the_plan_does_not_depend_on_the_workspace_scale() -> None:
    assert build_plan(7, STANDARD, build_company(7, 1)) == build_plan(7, STANDARD, build_company(7, 3))


def test_holdout_text_never_uses_a_catalog_alias(holdout: Plan) -> None:
    for p in holdout.plants:
        aliases = STANDARD.aliases[p.metric_id]
        for s in p.statements:
            for alias in aliases:
                assert not re.search(rf"(?<![\w-]){re.escape(alias)}(?![\w-])", s.text, re.IGNORECASE), (alias, s.text)


def test_standard_text_uses_the_catalog_aliases(standard: Plan) -> None:
    used = {
        p.metric_id
        for p in standard.plants
        for s in p.statements
        if any(a.lower() in s.text.lower() for a in STANDARD.aliases[p.metric_id])
    }
    assert used == {k.id for k in KPIS}
