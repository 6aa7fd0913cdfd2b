"""ECE and the reliability table: bins weighted by their readings, the top bin closed."""

from __future__ import annotations

import pytest

from kpi_pipeline.calibration.reliability import reliability


def test_ece_weights_each_bins_gap_by_its_share_of_readings() -> None:
    # bin 0.9-1.0: 0.95 twice, one right (gap 0.45); bin 0.5-0.6: 0.5 twice, both right (gap 0.5)
    result = reliability([0.95, 0.95, 0.5, 0.5], [True, False, True, True])
    assert result.ece == pytest.approx(0.5 * 0.45 + 0.5 * 0.5)
    assert [(r["bin"], r["count"], r["accuracy"]) for r in result.table] == [("0.5-0.6", 2, 1.0), ("0.9-1.0", 2, 0.5)]


def test_a_confidence_of_one_falls_in_the_top_bin() -> None:
    assert reliability([1.0], [True]).table[0]["bin"] == "0.9-1.0"


def test_no_readings_have_no_ece() -> None:
    result = reliability([], [])
    assert result.ece is None and result.table == []


def test_the_table_prints_one_aligned_line_per_bin() -> None:
    lines = reliability([0.15, 0.95], [False, True]).lines()
    assert len(lines) == 3 and lines[1].split() == ["0.1-0.2", "1", "0.1500", "0.0000"]
