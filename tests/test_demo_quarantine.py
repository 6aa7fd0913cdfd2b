"""The demo's planted bad cases end in kpi.metric_quarantine with the matching reason, and none is published.

The demo (seed 7, scale 1) is generated once; only the days of planted bad cases are read through the source
resources, extracted offline and gated, without Dagster. The generator's plan says what was planted where.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time
from typing import Any

import pandas as pd
import pytest

from kpi_pipeline.catalog import Catalog, load_catalog
from kpi_pipeline.demo.generate import DatasetSummary, generate_dataset
from kpi_pipeline.demo.phrasing import STANDARD, in_words
from kpi_pipeline.demo.plan import Plant
from kpi_pipeline.extraction.offline import OfflineBackend
from kpi_pipeline.extraction.pipeline import extract_days
from kpi_pipeline.orchestration.evaluate import read_dataset_days
from kpi_pipeline.quality.gate import GateResult, run_gate

BAD_CASES = ("injection", "out_of_range", "hedged", "ungrounded")
# the rules (first word of a quarantine reason) of which each kind of plant must fail one
EXPECTED_RULES = {
    "injection": {"prompt_injection"},
    "out_of_range": {"max_value", "min_value"},
    "hedged": {"min_confidence"},
    "ungrounded": {"grounded"},
}


def _words_only(plant: Plant) -> bool:
    """An "ungrounded" plant that states its number in words, not one that points at the dashboard."""
    (statement,) = plant.statements
    return any(f"{in_words(n)} percent" in statement.text for n in range(100))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> DatasetSummary:
    return generate_dataset(tmp_path_factory.mktemp("demo"), seed=7, scale=1)


@pytest.fixture(scope="module")
def plants(dataset: DatasetSummary) -> list[Plant]:
    return [p for p in dataset.plants if p.case in BAD_CASES]


@pytest.fixture(scope="module")
def catalog(dataset: DatasetSummary) -> Catalog:
    return load_catalog(dataset.out_dir / "metrics.yaml")


@pytest.fixture(scope="module")
def values(dataset: DatasetSummary, plants: list[Plant], catalog: Catalog) -> pd.DataFrame:
    raw = read_dataset_days(dataset.out_dir, sorted({p.day for p in plants}))
    extracted = extract_days(raw, catalog, OfflineBackend())
    frame = pd.concat([e.values for e in extracted.values()], ignore_index=True)
    return frame.assign(run_id="test-run", computed_at=pd.Timestamp("2026-10-01", tz="UTC"))


@pytest.fixture(scope="module")
def gate(values: pd.DataFrame, catalog: Catalog, plants: list[Plant]) -> GateResult:
    return run_gate(values, catalog, sorted({p.day for p in plants}))


def _row(frame: pd.DataFrame, metric_id: str, day: date) -> dict[str, Any] | None:
    rows = frame[(frame["metric_id"] == metric_id) & (frame["day"] == day)].to_dict("records")
    assert len(rows) <= 1
    return {str(k): v for k, v in rows[0].items()} if rows else None


def test_the_demo_plants_every_kind_of_bad_case(plants: list[Plant]) -> None:
    assert {p.case for p in plants} == set(BAD_CASES)
    assert any(_words_only(p) for p in plants) and any(not _words_only(p) for p in plants if p.case == "ungrounded")
    assert all(p.truth is None for p in plants)


def test_every_planted_bad_case_with_a_stated_number_or_an_instruction_is_quarantined_with_its_reason(
    gate: GateResult, plants: list[Plant]
) -> None:
    held = [p for p in plants if p.case != "ungrounded" or _words_only(p)]
    for plant in held:
        row = _row(gate.quarantine, plant.metric_id, plant.day)
        assert row is not None, f"{plant.case} {plant.metric_id}@{plant.day} is not in the quarantine"
        rules = {str(reason).split(":")[0] for reason in row["reasons"]}
        assert rules & EXPECTED_RULES[plant.case], (plant.case, plant.metric_id, row["reasons"])


def test_the_injection_is_an_abstention_that_names_its_source(gate: GateResult, plants: list[Plant]) -> None:
    (plant,) = [p for p in plants if p.case == "injection"]
    row = _row(gate.quarantine, plant.metric_id, plant.day)
    assert row is not None and pd.isna(row["value"]) and row["status"] == "abstained"
    issues = json.loads(str(row["grounding_issues"]))
    assert [i["flag"] for i in issues] == ["suspected_prompt_injection"]
    (statement,) = plant.statements
    planted_at = int(datetime.combine(plant.day, time(), UTC).timestamp()) + statement.second
    assert issues[0]["source_id"].startswith("slack:") and f":{planted_at}." in issues[0]["source_id"]


def test_the_injected_value_is_never_a_value(values: pd.DataFrame, plants: list[Plant]) -> None:
    injected = float(re.findall(r"(\d+(?:\.\d+)?)%", STANDARD.injection)[0])
    (plant,) = [p for p in plants if p.case == "injection"]
    day = values[values["day"] == plant.day]
    assert not (pd.to_numeric(day["value"]) == injected).any()


def test_words_only_readings_are_ungrounded_with_the_reason(gate: GateResult, plants: list[Plant]) -> None:
    for plant in [p for p in plants if p.case == "ungrounded" and _words_only(p)]:
        row = _row(gate.quarantine, plant.metric_id, plant.day)
        assert row is not None and row["status"] == "ungrounded"
        issues = json.loads(str(row["grounding_issues"]))
        assert [i["flag"] for i in issues] == ["number_not_in_quote"]
        assert "words" in issues[0]["detail"]


def test_nothing_of_a_bad_case_metric_day_is_published(gate: GateResult, plants: list[Plant]) -> None:
    published = {(m, d) for m, d in zip(gate.publish["metric_id"], gate.publish["day"], strict=True)}
    assert not published & {(p.metric_id, p.day) for p in plants}


def test_a_pointer_to_the_dashboard_is_an_abstention_not_a_value(
    values: pd.DataFrame, gate: GateResult, plants: list[Plant]
) -> None:
    pointers = [p for p in plants if p.case == "ungrounded" and not _words_only(p)]
    for plant in pointers:
        row = _row(values, plant.metric_id, plant.day)
        assert row is not None and row["status"] == "abstained"
        assert _row(gate.publish, plant.metric_id, plant.day) is None
