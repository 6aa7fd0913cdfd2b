"""Map files: written as reviewable JSON, read back equal; a malformed one is refused in one line naming the
file, the key and the command that refits it."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from kpi_pipeline.calibration.fit import fit_map
from kpi_pipeline.calibration.labels import LabelledReading
from kpi_pipeline.calibration.mapfile import CalibrationError, MapKey, find_map, load_map, write_map

KEY = MapKey("anthropic", "claude-sonnet-4-5", "2026-12-01.1")
READINGS = [
    LabelledReading("tiny", "m", date(2026, 7, 1) + timedelta(days=i), 0.5 + i / 100, i % 3 != 0) for i in range(30)
]


def written(tmp_path: Path) -> Path:
    return write_map(fit_map(KEY, READINGS, abstentions=2), tmp_path)


def test_a_written_map_is_found_by_its_key_and_reads_back_equal(tmp_path: Path) -> None:
    path = written(tmp_path)
    assert path.name == "anthropic__claude-sonnet-4-5__2026-12-01.1.json"
    data = json.loads(path.read_text())
    assert {"knots", "datasets", "readings", "ece_before", "ece_after", "split", "method"} <= set(data)
    assert find_map(KEY, tmp_path) == fit_map(KEY, READINGS, abstentions=2)


def test_no_file_for_the_key_means_no_map(tmp_path: Path) -> None:
    written(tmp_path)
    assert find_map(MapKey("anthropic", "claude-sonnet-4-5", "2026-12-01.2"), tmp_path) is None


def test_a_file_whose_contents_are_another_keys_is_refused(tmp_path: Path) -> None:
    path = written(tmp_path)
    other = MapKey("anthropic", "claude-haiku-4-5", "2026-12-01.1")
    path.rename(tmp_path / other.file_name)
    with pytest.raises(CalibrationError, match="holds the map for anthropic/claude-sonnet-4-5"):
        find_map(other, tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"knots": []}, "key 'knots' must be a non-empty list"),
        ({"knots": [[0.5, 0.6], [0.4, 0.7]]}, r"key 'knots'\[1\]: raw confidences must rise strictly"),
        ({"knots": [[0.4, 0.7], [0.5, 0.6]]}, r"key 'knots'\[1\]: calibrated confidence falls"),
        ({"knots": [[0.4, 1.7]]}, r"key 'knots'\[0\] must be a pair"),
        ({"model": ""}, "key 'model' must be a non-empty string"),
        ({"readings": -1}, "key 'readings' must be a count"),
        ({"ece_after": "low"}, "key 'ece_after' must be a number in 0..1 or null"),
        ({"datasets": "demo"}, "key 'datasets' must be a list"),
    ],
)
def test_a_malformed_key_is_named_with_the_file_and_the_fix(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    path = written(tmp_path)
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    with pytest.raises(CalibrationError, match=message) as refused:
        load_map(path)
    assert str(path) in str(refused.value) and "kpi-pipeline calibrate" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_file_that_is_not_json_says_where(tmp_path: Path) -> None:
    path = tmp_path / KEY.file_name
    path.write_text('{\n  "knots": [\n')
    with pytest.raises(CalibrationError, match=r"not valid JSON \(line 3\)"):
        find_map(KEY, tmp_path)
