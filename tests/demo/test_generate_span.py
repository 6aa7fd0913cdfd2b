"""generate_dataset's size knobs: `days` (the N days ending 2026-09-30) and `kpis` (up to 50 metrics); truth
still matches the text, and the defaults stay the demo quarter."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from kpi_pipeline.catalog import load_catalog
from kpi_pipeline.demo import DatasetSummary, generate_dataset
from kpi_pipeline.demo.__main__ import main
from kpi_pipeline.demo.more_kpis import ALL_KPIS
from tests.demo.texts import texts_by_day

YEAR_START = date(2025, 10, 1)
LAST_DAY = date(2026, 9, 30)


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> DatasetSummary:
    return generate_dataset(tmp_path_factory.mktemp("year") / "demo", seed=7, days=365, kpis=50)


def _truth(out_dir: Path) -> dict[tuple[date, str], str]:
    with (out_dir / "truth.csv").open(newline="") as f:
        return {(date.fromisoformat(r["date"]), r["metric"]): r["value"] for r in csv.DictReader(f)}


def test_a_year_of_fifty_kpis_has_truth_for_every_day_and_metric(year: DatasetSummary) -> None:
    truth = _truth(year.out_dir)
    days = {d for d, _ in truth}
    assert min(days) == YEAR_START and max(days) == LAST_DAY and len(days) == 365
    assert {m for _, m in truth} == {k.id for k in ALL_KPIS}
    assert len(truth) == 365 * 50
    assert load_catalog(year.out_dir / "metrics.yaml").metric_ids == [k.id for k in ALL_KPIS]
    assert "50 KPIs over 365 days" in year.describe()


def test_every_reading_of_the_year_is_written_in_its_sources_text_that_day(year: DatasetSummary) -> None:
    texts = texts_by_day(year.out_dir)
    readings = [p for p in year.plants if p.truth is not None]
    assert len(readings) == year.readings > 2000
    assert {p.metric_id for p in readings} == {k.id for k in ALL_KPIS}
    for plant in readings:
        authority = next(s for s in ("docs", "jira", "slack") if s in {st.source_type for st in plant.statements})
        assert plant.value_text and plant.value_text in texts[(authority, plant.day)], (plant.day, plant.metric_id)


def test_every_source_stays_inside_the_year(year: DatasetSummary) -> None:
    slack_days = {date.fromisoformat(p.stem) for p in (year.out_dir / "slack").glob("*/*.json")}
    assert min(slack_days) == YEAR_START and max(slack_days) == LAST_DAY
    comments = [
        c["created"][:10]
        for page in (year.out_dir / "jira").glob("*.json")
        for issue in json.loads(page.read_text())["issues"]
        if issue["key"].startswith("OPS-")
        for c in issue["fields"]["comment"]["comments"]
    ]
    assert YEAR_START.isoformat() <= min(comments) and max(comments) <= LAST_DAY.isoformat()


def test_a_year_has_monthly_reviews_and_surveys_and_the_quarters_planted_cases_four_times(
    year: DatasetSummary,
) -> None:
    reviews = sorted(p.name[:10] for p in (year.out_dir / "docs" / "reviews").iterdir())
    surveys = sorted(p.name[:10] for p in (year.out_dir / "docs" / "surveys").iterdir())
    assert reviews[0] == "2025-11-03" and reviews[-2:] == ["2026-09-01", "2026-09-30"] and len(reviews) == 12
    assert len(surveys) == 12 and all((date.fromisoformat(s) + timedelta(days=1)).day == 1 for s in surveys)
    cases = [p.case for p in year.plants]
    assert cases.count("correction") == 16 and cases.count("conflict") == 16
    assert len(list((year.out_dir / "docs" / "postmortems").iterdir())) >= 20


def test_the_same_knobs_write_the_same_bytes(tmp_path: Path) -> None:
    one = generate_dataset(tmp_path / "a", seed=7, days=30, kpis=40)
    two = generate_dataset(tmp_path / "b", seed=7, days=30, kpis=40)
    files = sorted(p.relative_to(one.out_dir) for p in one.out_dir.rglob("*") if p.is_file())
    assert files and all((one.out_dir / f).read_bytes() == (two.out_dir / f).read_bytes() for f in files)
    assert {d for d, _ in _truth(one.out_dir)} == {LAST_DAY - timedelta(days=i) for i in range(30)}


def test_the_defaults_are_the_demo_quarter(tmp_path: Path) -> None:
    explicit = generate_dataset(tmp_path / "explicit", seed=7, days=92, kpis=12)
    default = generate_dataset(tmp_path / "default", seed=7)
    files = sorted(p.relative_to(default.out_dir) for p in default.out_dir.rglob("*") if p.is_file())
    assert all((explicit.out_dir / f).read_bytes() == (default.out_dir / f).read_bytes() for f in files)
    assert min(d for d, _ in _truth(default.out_dir)) == date(2026, 7, 1)


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--days", "27"], "--days must be between 28 and 366"), (["--kpis", "51"], "--kpis must be between 12 and 50")],
)
def test_the_cli_refuses_out_of_range_knobs_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main([str(tmp_path / "out"), *flags])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_generate_dataset_refuses_out_of_range_knobs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="days must be between 28 and 366"):
        generate_dataset(tmp_path, days=400)
    with pytest.raises(ValueError, match="kpis must be between 12 and 50"):
        generate_dataset(tmp_path, kpis=8)
