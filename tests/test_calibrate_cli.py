"""`kpi-pipeline calibrate` writes a map from labelled datasets and `kpi-pipeline eval` then scores it on the
days it was not fitted on; user mistakes get one line, not a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kpi_pipeline.calibration.apply import map_key
from kpi_pipeline.cli import main
from kpi_pipeline.extraction.offline import MODEL

DATASETS = Path(__file__).resolve().parent / "datasets"


@pytest.fixture
def maps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KPI_CALIBRATION_DIR", str(tmp_path / "calibration"))
    monkeypatch.setenv("KPI_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'untouched.duckdb'}")
    return tmp_path / "calibration"


def test_calibrate_writes_the_map_and_eval_scores_it_on_held_out_days(
    maps: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["calibrate", str(DATASETS / "rustc_perf_triage"), str(DATASETS / "pypi_blog")]) == 0
    out = capsys.readouterr().out
    path = maps / map_key("offline", MODEL).file_name
    written = json.loads(path.read_text())
    assert written["datasets"] == ["pypi_blog", "rustc_perf_triage"]
    assert f"offline/{MODEL}" in out and f"{written['readings']} labelled readings" in out
    assert f"held-out ECE before {written['ece_before']}, after {written['ece_after']}" in out
    assert "reliability after calibration" in out and f"wrote {path}" in out

    assert main(["eval", str(DATASETS / "rustc_perf_triage")]) == 0
    out = capsys.readouterr().out
    assert f"calibration/{path.name}, scored on held-out days" in out
    assert "ECE before" in out and "reliability before calibration" in out


def test_eval_on_a_dataset_the_map_never_saw_scores_every_day(maps: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", str(DATASETS / "rustc_perf_triage")]) == 0
    assert main(["eval", str(DATASETS / "pypi_blog")]) == 0
    assert "scored on every day" in capsys.readouterr().out


def test_eval_without_a_map_says_the_raw_confidence_is_used(maps: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(DATASETS / "rustc_perf_triage")]) == 0
    assert "calibration            none (raw confidence)" in capsys.readouterr().out


def test_a_folder_without_truth_is_refused_in_one_line(
    maps: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["calibrate", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kpi-pipeline calibrate: ") and "truth.csv" in err and "\n" not in err
    assert not maps.exists()


def test_a_broken_map_file_stops_eval_with_the_file_and_the_fix(maps: Path, capsys: pytest.CaptureFixture[str]) -> None:
    maps.mkdir()
    broken = maps / map_key("offline", MODEL).file_name
    broken.write_text('{"backend": "offline"}')
    assert main(["eval", str(DATASETS / "rustc_perf_triage")]) == 2
    err = capsys.readouterr().err.strip()
    assert str(broken) in err and "kpi-pipeline calibrate" in err and "\n" not in err
