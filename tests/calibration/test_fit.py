"""Fitting a map: the knots come from the fit days only, the ECE figures from the held-out days only."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kpi_pipeline.calibration.fit import fit_map, labels_fingerprint
from kpi_pipeline.calibration.labels import LabelledReading, held_out
from kpi_pipeline.calibration.mapfile import CalibrationError, MapKey
from kpi_pipeline.extraction.grounding import UNGROUNDED_CONFIDENCE_CAP

KEY = MapKey("offline", "offline-extractor-v1", "test")
DAYS = [date(2026, 7, 1) + timedelta(days=i) for i in range(60)]


def overconfident(days: list[date]) -> list[LabelledReading]:
    """Says 0.9 and is right half the time; says 0.5 and is always wrong."""
    return [
        LabelledReading("demo", m, d, conf, right)
        for d in days
        for m, conf, right in (("a", 0.9, True), ("b", 0.9, False), ("c", 0.5, False))
    ]


def test_the_map_learns_the_real_rate_and_the_held_out_ece_drops() -> None:
    cmap = fit_map(KEY, overconfident(DAYS), abstentions=4, command="kpi-pipeline calibrate demo")
    fit_days = [d for d in DAYS if not held_out(d)]
    assert cmap.fitted_readings == 3 * len(fit_days) and cmap.readings == 3 * len(DAYS)
    assert cmap.held_out_readings == cmap.readings - cmap.fitted_readings > 0
    assert cmap.apply([0.9])[0] == pytest.approx((len(fit_days) + 1) / (2 * len(fit_days) + 2), abs=1e-4)
    assert cmap.apply([0.5])[0] < 0.1
    assert cmap.ece_before is not None and cmap.ece_after is not None
    assert cmap.ece_before > 0.3 and cmap.ece_after < 0.05
    assert cmap.datasets == ("demo",) and cmap.abstentions_excluded == 4
    assert cmap.labels_sha256 == labels_fingerprint(reversed(overconfident(DAYS)))


def test_held_out_readings_never_move_a_knot() -> None:
    readings = overconfident(DAYS)
    flipped = [
        r if not held_out(r.day) else LabelledReading(r.dataset, r.metric_id, r.day, 0.2, True) for r in readings
    ]
    assert fit_map(KEY, readings).knots == fit_map(KEY, flipped).knots


def test_nothing_to_fit_on_is_refused_with_what_to_give() -> None:
    only_held_out = overconfident([d for d in DAYS if held_out(d)][:2])
    with pytest.raises(CalibrationError, match="no labelled reading with a value on a fitting day"):
        fit_map(KEY, only_held_out)


def test_the_held_out_figures_keep_an_ungrounded_reading_under_the_grounding_cap() -> None:
    """Ungrounded 0.3s that the labels say are always right: the map lifts them, the recorded figures do not."""
    readings = [LabelledReading("demo", "u", d, 0.3, True, grounded=False) for d in DAYS]
    cmap = fit_map(KEY, readings)
    assert cmap.apply([0.3])[0] > UNGROUNDED_CONFIDENCE_CAP
    assert [row["mean_confidence"] for row in cmap.reliability_after] == [UNGROUNDED_CONFIDENCE_CAP]
