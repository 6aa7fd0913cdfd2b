"""The shipped maps under calibration/: each one loads, the offline backend has one for its running version,
it meets the acceptance bar on held-out data, and it is not stale (refitting would fit the same labels)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi_pipeline.calibration.apply import map_key
from kpi_pipeline.calibration.fit import labels_fingerprint
from kpi_pipeline.calibration.mapfile import calibration_dir, find_map, load_map
from kpi_pipeline.demo import generate_dataset
from kpi_pipeline.extraction.offline import OfflineBackend
from kpi_pipeline.orchestration.calibrate import dataset_labels

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "calibration"
REFIT = "run `make calibration` and commit the new map after reviewing its figures"


def test_calibration_dir_is_the_repos_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KPI_CALIBRATION_DIR", raising=False)
    assert calibration_dir() == SHIPPED


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.json")), ids=lambda p: p.name)
def test_every_shipped_map_loads_under_its_own_name(path: Path) -> None:
    cmap = load_map(path)
    assert cmap.key.file_name == path.name


def test_the_offline_backend_has_a_map_for_its_running_version_within_the_bar() -> None:
    backend = OfflineBackend()
    cmap = find_map(map_key(backend.name, backend.model), SHIPPED)
    assert cmap is not None, f"no map for {map_key(backend.name, backend.model)} in calibration/: {REFIT}"
    assert cmap.ece_after is not None and cmap.ece_after <= 0.05
    assert cmap.held_out_readings >= 50


@pytest.mark.slow
def test_the_offline_map_is_fitted_on_what_the_extractor_answers_today(tmp_path: Path) -> None:
    """Fails when the extractor's answers on the labelled datasets changed since the map was fitted."""
    backend = OfflineBackend()
    cmap = find_map(map_key(backend.name, backend.model), SHIPPED)
    assert cmap is not None, REFIT
    folders = [
        generate_dataset(tmp_path / "demo", seed=7).out_dir if name == "demo" else REPO / "tests" / "datasets" / name
        for name in cmap.datasets
    ]
    labelled = [dataset_labels(folder, backend) for folder in folders]
    readings = [r for part in labelled for r in part.readings]
    assert labels_fingerprint(readings) == cmap.labels_sha256, f"calibration/{cmap.key.file_name} is stale: {REFIT}"
