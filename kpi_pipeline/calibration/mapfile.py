"""Calibration maps as reviewed JSON files, one per (backend, model, version), under calibration/.

A map is data like an expectation suite: a person reads the knots, the datasets it was fitted on and its
held-out figures before it lands. Loading refuses a malformed file with one line naming the file, the key
and what to do, since a wrong map would silently move every published confidence.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kpi_pipeline.calibration.isotonic import Knot, apply_knots

REFIT = "refit it with `kpi-pipeline calibrate DATASET ...` (docs/evaluation.md, Calibration)"


class CalibrationError(ValueError):
    """A calibration file is missing, malformed or does not fit the running backend."""


@dataclass(frozen=True)
class MapKey:
    backend: str
    model: str
    version: str  # the prompt version, or the offline extractor's own OFFLINE_VERSION

    @property
    def file_name(self) -> str:
        parts = (self.backend, self.model, self.version)
        return "__".join(re.sub(r"[^A-Za-z0-9._-]", "_", p) for p in parts) + ".json"


@dataclass(frozen=True)
class CalibrationMap:
    key: MapKey
    knots: tuple[Knot, ...]
    datasets: tuple[str, ...]  # folder names of the labelled datasets fitted on
    readings: int  # labelled readings with a value, fit and held out together
    fitted_readings: int
    held_out_readings: int
    abstentions_excluded: int  # labelled pairs without a value: no confidence to calibrate
    ece_before: float | None  # on the held-out readings; None when none were held out
    ece_after: float | None
    reliability_before: list[dict[str, Any]] = field(default_factory=list)
    reliability_after: list[dict[str, Any]] = field(default_factory=list)
    labels_sha256: str = ""  # of every labelled reading, to tell when a refit would change the map
    split: str = ""
    method: str = ""
    command: str = ""

    def apply(self, raw: Any) -> np.ndarray:
        return apply_knots(self.knots, raw)

    def fitted_on(self, dataset: str) -> bool:
        return dataset in self.datasets


def calibration_dir() -> Path:
    """`KPI_CALIBRATION_DIR`, else calibration/ at the repository root."""
    explicit = os.environ.get("KPI_CALIBRATION_DIR")
    return Path(explicit) if explicit else Path(__file__).resolve().parents[2] / "calibration"


def write_map(cmap: CalibrationMap, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / cmap.key.file_name
    data = asdict(cmap)
    data = {**data.pop("key"), **data, "knots": [[k.raw, k.calibrated] for k in cmap.knots]}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def find_map(key: MapKey, directory: Path | None = None) -> CalibrationMap | None:
    """The map for `key`, or None when the directory holds none for it (the raw confidence is then used)."""
    path = (directory or calibration_dir()) / key.file_name
    if not path.is_file():
        return None
    cmap = load_map(path)
    if cmap.key != key:
        raise CalibrationError(f"{path}: holds the map for {_describe(cmap.key)}, not {_describe(key)}; {REFIT}")
    return cmap


def _describe(key: MapKey) -> str:
    return f"{key.backend}/{key.model} version {key.version}"


def load_map(path: Path) -> CalibrationMap:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"{path}: not valid JSON (line {exc.lineno}): {exc.msg}; fix it or {REFIT}") from None
    if not isinstance(data, dict):
        raise CalibrationError(f"{path}: expected a JSON object with backend, model, version and knots; {REFIT}")
    text = {k: _text(path, data, k) for k in ("backend", "model", "version")}
    counts = {k: _count(path, data, k) for k in ("readings", "fitted_readings", "held_out_readings")}
    datasets = data.get("datasets")
    if not isinstance(datasets, list) or not all(isinstance(d, str) for d in datasets):
        raise CalibrationError(f"{path}: key 'datasets' must be a list of dataset names; {REFIT}")
    return CalibrationMap(
        key=MapKey(**text),
        knots=_knots(path, data.get("knots")),
        datasets=tuple(datasets),
        abstentions_excluded=_count(path, data, "abstentions_excluded"),
        ece_before=_rate(path, data, "ece_before"),
        ece_after=_rate(path, data, "ece_after"),
        reliability_before=list(data.get("reliability_before") or []),
        reliability_after=list(data.get("reliability_after") or []),
        labels_sha256=str(data.get("labels_sha256", "")),
        split=str(data.get("split", "")),
        method=str(data.get("method", "")),
        command=str(data.get("command", "")),
        **counts,
    )


def _text(path: Path, data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise CalibrationError(f"{path}: key '{key}' must be a non-empty string; {REFIT}")
    return value


def _count(path: Path, data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CalibrationError(f"{path}: key '{key}' must be a count (an integer >= 0); {REFIT}")
    return value


def _rate(path: Path, data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
        raise CalibrationError(f"{path}: key '{key}' must be a number in 0..1 or null; {REFIT}")
    return float(value)


def _knots(path: Path, raw: Any) -> tuple[Knot, ...]:
    """[[raw, calibrated], ...]: at least one, each in 0..1, raw strictly rising, calibrated never falling."""
    where = f"{path}: key 'knots'"
    if not isinstance(raw, list) or not raw:
        raise CalibrationError(f"{where} must be a non-empty list of [raw, calibrated] pairs; {REFIT}")
    knots: list[Knot] = []
    for i, pair in enumerate(raw):
        ok = isinstance(pair, list) and len(pair) == 2
        ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in pair)
        if not ok:
            raise CalibrationError(f"{where}[{i}] must be a pair [raw, calibrated] of numbers in 0..1; {REFIT}")
        knot = Knot(float(pair[0]), float(pair[1]))
        if knots and knot.raw <= knots[-1].raw:
            raise CalibrationError(f"{where}[{i}]: raw confidences must rise strictly; {REFIT}")
        if knots and knot.calibrated < knots[-1].calibrated:
            raise CalibrationError(f"{where}[{i}]: calibrated confidence falls, the map must be monotone; {REFIT}")
        knots.append(knot)
    return tuple(knots)
