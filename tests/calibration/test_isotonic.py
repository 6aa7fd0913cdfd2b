"""The isotonic fit: monotone whatever the labels, smoothed away from certainty, flat outside its range."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kpi_pipeline.calibration.isotonic import CALIBRATED_MAX, Knot, apply_knots, fit_isotonic


def test_a_violation_is_pooled_into_one_block_with_the_smoothed_rate() -> None:
    # 0.6 right, 0.8 wrong, 0.9 right twice: 0.6 and 0.8 pool (1 right of 2 -> 2/4), 0.9 alone (3/4)
    knots = fit_isotonic([0.6, 0.8, 0.9, 0.9], [True, False, True, True])
    assert knots == (Knot(0.6, 0.5), Knot(0.8, 0.5), Knot(0.9, 0.75))


def test_the_map_never_falls_as_raw_confidence_rises() -> None:
    rng = np.random.default_rng(3)
    raw = rng.uniform(0, 1, 300)
    correct = rng.uniform(0, 1, 300) < raw**2
    knots = fit_isotonic(list(raw), list(correct))
    assert all(b.raw > a.raw and b.calibrated >= a.calibrated for a, b in itertools.pairwise(knots))
    mapped = apply_knots(knots, np.linspace(0, 1, 101))
    assert np.all(np.diff(mapped) >= 0)


def test_equal_raw_confidences_share_one_calibrated_value() -> None:
    knots = fit_isotonic([0.95, 0.95, 0.95, 0.5], [False, True, True, False])
    assert [k.raw for k in knots] == [0.5, 0.95]
    assert apply_knots(knots, [0.95])[0] == pytest.approx(3 / 5)


def test_all_right_readings_stay_below_certainty() -> None:
    knots = fit_isotonic([0.99] * 500, [True] * 500)
    assert apply_knots(knots, [0.99])[0] == CALIBRATED_MAX


def test_between_knots_is_linear_and_outside_is_flat() -> None:
    knots = (Knot(0.2, 0.1), Knot(0.6, 0.5))
    assert list(apply_knots(knots, [0.0, 0.4, 1.0])) == [0.1, 0.3, 0.5]


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="2 confidences but 1 labels"):
        fit_isotonic([0.1, 0.2], [True])
