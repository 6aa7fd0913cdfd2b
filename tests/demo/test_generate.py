"""generate_dataset: one deterministic dataset folder in the evaluation format, with truth that matches its text."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from kpi_pipeline.catalog import load_catalog
from kpi_pipeline.demo import DatasetSummary, generate_dataset
from kpi_pipeline.demo.__main__ import main
from tests.demo.texts import texts_by_day

HELD_BACK = ("injection", "out_of_range", "hedged", "ungrounded")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> DatasetSummary:
    return generate_dataset(tmp_path_factory.mktemp("demo") / "seed7", seed=7)


@pytest.fixture(scope="module")
def truth(dataset: DatasetSummary) -> dict[tuple[date, str], str]:
    with (dataset.out_dir / "truth.csv").open(newline="") as f:
        return {(date.fromisoformat(r["date"]), r["metric"]): r["value"] for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def day_texts(dataset: DatasetSummary) -> dict[tuple[str, date], str]:
    return texts_by_day(dataset.out_dir)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_same_seed_writes_byte_identical_files(dataset: DatasetSummary, tmp_path: Path) -> None:
    again = generate_dataset(tmp_path / "again", seed=7)
    assert _files(again.out_dir) == _files(dataset.out_dir)


def test_another_seed_writes_another_company(dataset: DatasetSummary, tmp_path: Path) -> None:
    other = generate_dataset(tmp_path / "other", seed=8)
    assert (other.out_dir / "truth.csv").read_bytes() != (dataset.out_dir / "truth.csv").read_bytes()


def test_regenerating_into_the_same_folder_replaces_old_outputs(tmp_path: Path) -> None:
    stale = tmp_path / "slack" / "old-channel" / "2020-01-01.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("[]")
    generate_dataset(tmp_path, seed=7)
    assert not stale.exists()


def test_the_folder_has_the_evaluation_layout(dataset: DatasetSummary) -> None:
    names = {p.name for p in dataset.out_dir.iterdir()}
    assert {"slack", "jira", "docs", "metrics.yaml", "truth.csv"} <= names
    assert (dataset.out_dir / "slack" / "channels.json").is_file()
    assert (dataset.out_dir / "slack" / "users.json").is_file()


def test_size_floors_of_a_realistic_quarter(dataset: DatasetSummary) -> None:
    channels = json.loads((dataset.out_dir / "slack" / "channels.json").read_text())
    messages = sum(len(json.loads(p.read_text())) for p in (dataset.out_dir / "slack").glob("*/*.json"))
    issues = sum(len(json.loads(p.read_text())["issues"]) for p in (dataset.out_dir / "jira").glob("*.json"))
    assert len(channels) >= 6
    assert messages >= 8000
    assert issues >= 600
    assert (dataset.channels, dataset.messages, dataset.issues) == (len(channels), messages, issues)
    assert dataset.docs == len(list((dataset.out_dir / "docs").rglob("*.md"))) > 20


def test_truth_has_a_row_for_every_day_and_metric(dataset: DatasetSummary, truth: dict[tuple[date, str], str]) -> None:
    catalog = load_catalog(dataset.out_dir / "metrics.yaml")
    days = {d for d, _ in truth}
    assert min(days) == date(2026, 7, 1) and max(days) == date(2026, 9, 30) and len(days) == 92
    assert {m for _, m in truth} == set(catalog.metric_ids)
    assert len(truth) == 92 * len(catalog.metric_ids)
    filled = [v for v in truth.values() if v]
    assert len(filled) == dataset.readings >= 100
    assert len(filled) < len(truth) / 2, "most metric-days have no reading"


def test_every_reading_is_written_in_its_sources_text_that_day(
    dataset: DatasetSummary, truth: dict[tuple[date, str], str], day_texts: dict[tuple[str, date], str]
) -> None:
    readings = [p for p in dataset.plants if p.truth is not None]
    assert len(readings) == dataset.readings
    for plant in readings:
        assert truth[(plant.day, plant.metric_id)] != ""
        assert float(truth[(plant.day, plant.metric_id)]) == pytest.approx(plant.truth)
        assert plant.value_text
        sources = {s.source_type for s in plant.statements}
        authority = next(s for s in ("docs", "jira", "slack") if s in sources)
        assert plant.value_text in day_texts[(authority, plant.day)], (plant.day, plant.metric_id)
        for statement in plant.statements:
            assert statement.text in day_texts[(statement.source_type, statement.day)]


def test_held_back_cases_are_planted_and_have_empty_truth(
    dataset: DatasetSummary, truth: dict[tuple[date, str], str], day_texts: dict[tuple[str, date], str]
) -> None:
    for case in HELD_BACK:
        plants = [p for p in dataset.plants if p.case == case]
        assert plants, case
        for plant in plants:
            assert truth[(plant.day, plant.metric_id)] == ""
            assert plant.statements[0].text in day_texts[("slack", plant.day)]


def test_the_injected_value_is_never_the_truth(dataset: DatasetSummary, truth: dict[tuple[date, str], str]) -> None:
    (injection,) = [p for p in dataset.plants if p.case == "injection"]
    assert "ignore previous instructions" in injection.statements[0].text
    assert "100% uptime" in injection.statements[0].text
    assert all(v != "100" for (_, m), v in truth.items() if m == injection.metric_id)


def test_corrections_and_conflicts_resolve_to_the_later_or_more_authoritative_value(
    dataset: DatasetSummary, truth: dict[tuple[date, str], str]
) -> None:
    corrections = [p for p in dataset.plants if p.case == "correction"]
    conflicts = [p for p in dataset.plants if p.case == "conflict"]
    assert corrections and conflicts
    for plant in corrections:
        assert plant.value_text
        first, fix = plant.statements
        assert fix.second > first.second
        assert plant.value_text in fix.text and plant.value_text not in first.text
    for plant in conflicts:
        assert plant.value_text
        slack = [s for s in plant.statements if s.source_type == "slack"]
        trusted = [s for s in plant.statements if s.source_type != "slack"]
        assert all(plant.value_text in s.text for s in trusted[:1])
        assert all(plant.value_text not in s.text for s in slack)


def test_the_dataset_catalog_loads_and_names_every_truth_metric(
    dataset: DatasetSummary, truth: dict[tuple[date, str], str]
) -> None:
    catalog = load_catalog(dataset.out_dir / "metrics.yaml")
    assert {m for _, m in truth} <= set(catalog.metric_ids)
    repo_root = Path(__file__).resolve().parents[2]
    assert (dataset.out_dir / "metrics.yaml").read_bytes() == (repo_root / "metrics.yaml").read_bytes()


def test_the_cli_writes_only_the_catalog_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "metrics.yaml"
    assert main(["--write-catalog", str(target)]) == 0
    assert load_catalog(target).metric_ids
    assert not (tmp_path / "truth.csv").exists()


def test_scale_below_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scale"):
        generate_dataset(tmp_path, scale=0)
    with pytest.raises(ValueError, match="phrasings"):
        generate_dataset(tmp_path, phrasings="casual")
