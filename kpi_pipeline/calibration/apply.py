"""Applying a map to extraction frames: `confidence_raw` keeps what the extractor said, `confidence` becomes
the calibrated value the gate compares with `min_confidence`.

Calibration comes after grounding's cap on an ungrounded answer (`UNGROUNDED_CONFIDENCE_CAP`), and the cap
holds again after it: the map learns from capped raw confidences, and an ungrounded reading never leaves
calibration above the cap, whatever the labels said. Readings without a value keep confidence 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kpi_pipeline.calibration.isotonic import Knot, apply_knots
from kpi_pipeline.calibration.mapfile import CalibrationMap, MapKey
from kpi_pipeline.extraction.grounding import UNGROUNDED_CONFIDENCE_CAP
from kpi_pipeline.extraction.offline import OFFLINE_VERSION
from kpi_pipeline.extraction.schema import PROMPT_VERSION

NO_MAP = "none (raw confidence)"


def map_key(backend: str, model: str) -> MapKey:
    """The offline extractor reads no prompt: its maps follow OFFLINE_VERSION; a model's follow PROMPT_VERSION."""
    return MapKey(backend, model, OFFLINE_VERSION if backend == "offline" else PROMPT_VERSION)


def describe(cmap: CalibrationMap | None) -> str:
    """What a run says about its calibration: the map's file name, or that the raw confidence is used."""
    return f"calibration/{cmap.key.file_name}" if cmap else NO_MAP


def calibrated(knots: Sequence[Knot], raw: np.ndarray, grounded: np.ndarray) -> np.ndarray:
    """The map's confidence for each raw one, held at the cap where the reading is ungrounded."""
    mapped = apply_knots(knots, raw)
    return np.where(grounded, mapped, np.minimum(mapped, UNGROUNDED_CONFIDENCE_CAP))


def calibrate_frame(frame: pd.DataFrame, cmap: CalibrationMap | None) -> pd.DataFrame:
    """`frame` (value, confidence, grounded) with `confidence_raw` added and `confidence` calibrated by `cmap`
    (unchanged without one)."""
    out = frame.copy()
    raw = pd.to_numeric(out["confidence"], errors="coerce").astype(float)
    out["confidence_raw"] = raw
    if cmap is None or out.empty:
        return out
    has_value = out["value"].notna().to_numpy()
    grounded = out["grounded"].fillna(False).astype(bool).to_numpy()
    mapped = calibrated(cmap.knots, raw.fillna(0.0).to_numpy(), grounded)
    out["confidence"] = np.where(has_value, mapped, raw.to_numpy())
    return out
