"""Fitting a map: labelled readings -> day-hash split -> isotonic fit on one part -> ECE on the other.

The shipped map is the one fitted on the fit part only, so the held-out figures it records are honest: no
held-out reading moved a knot.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

import numpy as np

from kpi_pipeline.calibration.apply import calibrated
from kpi_pipeline.calibration.isotonic import fit_isotonic
from kpi_pipeline.calibration.labels import HELD_OUT_EVERY, LabelledReading, held_out
from kpi_pipeline.calibration.mapfile import CalibrationError, CalibrationMap, MapKey
from kpi_pipeline.calibration.reliability import reliability

METHOD = (
    "isotonic regression (pool-adjacent-violators) of correct (within 1% of truth) on raw confidence; "
    "block rates smoothed by one pseudo right and one pseudo wrong reading; linear between knots, flat outside"
)
SPLIT = f"held out: days whose sha256(YYYY-MM-DD) mod {HELD_OUT_EVERY} is 0; fitted on the other days"


def labels_fingerprint(labelled: Iterable[LabelledReading]) -> str:
    """sha256 of the labelled readings in a stable order: equal fingerprints, equal fit."""
    rows = sorted((r.dataset, r.metric_id, r.day.isoformat(), round(r.confidence_raw, 6), r.correct) for r in labelled)
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def fit_map(
    key: MapKey, labelled: Iterable[LabelledReading], abstentions: int = 0, command: str = ""
) -> CalibrationMap:
    readings = list(labelled)
    fit = [r for r in readings if not held_out(r.day)]
    test = [r for r in readings if held_out(r.day)]
    if not fit:
        raise CalibrationError(
            f"no labelled reading with a value on a fitting day ({len(test)} held out): "
            "give datasets whose truth.csv covers more days or metrics"
        )
    knots = fit_isotonic([r.confidence_raw for r in fit], [r.correct for r in fit])
    correct = [r.correct for r in test]
    raw = np.array([r.confidence_raw for r in test], dtype=float)
    before = reliability(raw, correct)
    after = reliability(calibrated(knots, raw, np.array([r.grounded for r in test], dtype=bool)), correct)
    return CalibrationMap(
        key=key,
        knots=knots,
        datasets=tuple(sorted({r.dataset for r in readings})),
        readings=len(readings),
        fitted_readings=len(fit),
        held_out_readings=len(test),
        abstentions_excluded=abstentions,
        ece_before=before.ece,
        ece_after=after.ece,
        reliability_before=before.table,
        reliability_after=after.table,
        labels_sha256=labels_fingerprint(readings),
        split=SPLIT,
        method=METHOD,
        command=command,
    )
