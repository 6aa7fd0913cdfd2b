"""Scoring: accuracy where there is truth, abstention both ways, calibration, and cost."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from kpi_pipeline.calibration.isotonic import Knot
from kpi_pipeline.calibration.labels import held_out
from kpi_pipeline.calibration.mapfile import CalibrationMap, MapKey
from kpi_pipeline.evaluation import calibration_report, score

TRUTH = pd.DataFrame(
    {
        "date": ["2026-07-01", "2026-07-02", "2026-07-03", "2026-07-04", "2026-07-01", "2026-07-02"],
        "metric": ["err", "err", "err", "err", "nps", "nps"],
        "value": [3.0, 2.0, None, None, 40.0, None],
    }
)


def published(*rows: tuple[str, str, float, float]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["metric_id", "day", "value", "confidence"])


def test_perfect_publication() -> None:
    report = score(
        TRUTH,
        published(("err", "2026-07-01", 3.0, 0.9), ("err", "2026-07-02", 2.01, 0.9), ("nps", "2026-07-01", 40, 1)),
    )
    assert report["accuracy"] == 1.0  # 2.01 is within 1% of 2.0
    assert report["abstention_precision"] == 1.0 and report["abstention_recall"] == 1.0
    assert report["per_metric"]["err"]["accuracy"] == 1.0 and report["per_metric"]["nps"]["days_scored"] == 2


def test_wrong_missing_and_spurious_values() -> None:
    report = score(
        TRUTH,
        published(("err", "2026-07-01", 3.5, 0.9), ("err", "2026-07-03", 1.0, 0.8)),  # wrong, and spurious
    )
    # truth has 3 values: one wrong, two not published
    assert report["accuracy"] == 0.0
    # silent on err 07-02, err 07-04, nps 07-01, nps 07-02: two of them should be silent
    assert report["abstention_precision"] == 0.5
    # three days should be silent: err 07-03 (published, wrongly), err 07-04, nps 07-02
    assert report["abstention_recall"] == pytest.approx(0.6667)


def test_calibration_error_and_reliability_table() -> None:
    report = score(
        TRUTH,
        published(("err", "2026-07-01", 3.0, 0.95), ("err", "2026-07-02", 9.0, 0.95), ("nps", "2026-07-01", 40, 0.55)),
    )
    # bin 0.9-1.0: mean confidence 0.95, accuracy 0.5; bin 0.5-0.6: 0.55 vs 1.0
    assert report["ece"] == pytest.approx((2 / 3) * 0.45 + (1 / 3) * 0.45)
    bins = {row["bin"]: row for row in report["reliability"]}
    assert bins["0.9-1.0"]["count"] == 2 and bins["0.9-1.0"]["accuracy"] == 0.5
    assert bins["0.5-0.6"]["count"] == 1


def test_grounding_conflicts_and_cost() -> None:
    candidates = pd.DataFrame(
        {"metric_id": ["err", "err", "nps"], "value": [3.0, None, 40.0], "grounded": [True, False, False]}
    )
    calls = pd.DataFrame(
        {
            "input_tokens": [100, 50],
            "cache_creation_input_tokens": [10, 0],
            "cache_read_input_tokens": [0, 200],
            "output_tokens": [30, 20],
            "cost_usd": [0.001, 0.0005],
        }
    )
    pub = published(("err", "2026-07-01", 3.0, 0.9)).assign(status=["conflict"])
    report = score(TRUTH, pub, candidates, calls)
    assert report["grounded_rate"] == 0.5  # of the two readings with a value
    assert report["conflicts"] == 1
    assert (report["input_tokens"], report["output_tokens"], report["cache_read_input_tokens"]) == (160, 50, 200)
    assert report["cost_usd"] == pytest.approx(0.0015) and report["calls"] == 2
    assert report["per_metric"]["nps"]["grounded_rate"] == 0.0


def test_nothing_published() -> None:
    report = score(TRUTH, published())
    assert report["accuracy"] == 0.0
    assert report["abstention_recall"] == 1.0 and report["abstention_precision"] == 0.5
    assert report["ece"] is None and report["grounded_rate"] is None and report["cost_usd"] == 0.0
    assert not math.isnan(report["abstention_precision"])


def _values(rows: list[tuple[str, str, float | None, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["metric_id", "day", "value", "confidence", "confidence_raw"])


CAL_VALUES = _values(
    [
        ("err", "2026-07-01", 3.0, 0.8, 0.95),  # held out, right
        ("err", "2026-07-02", 9.0, 0.4, 0.9),  # held out, wrong
        ("err", "2026-07-05", 2.0, 0.8, 0.95),  # fitted on (and not in truth)
        ("nps", "2026-07-01", None, 0.0, 0.0),  # an abstention
    ]
)


def test_calibration_figures_of_a_dataset_the_map_was_fitted_on_use_its_held_out_days_only() -> None:
    cmap = CalibrationMap(MapKey("offline", "m", "v"), (Knot(0.0, 0.0), Knot(1.0, 1.0)), ("demo",), 1, 1, 0, 0, 0, 0)
    held = [d for d in ("2026-07-01", "2026-07-02") if held_out(pd.Timestamp(d).date())]
    assert held == ["2026-07-01", "2026-07-02"]  # the rows above rely on it
    report = calibration_report(TRUTH, CAL_VALUES, cmap, "demo")
    assert report["readings"] == 2 and report["scored_on"].startswith("held-out days")
    assert report["ece_before"] == pytest.approx(abs((0.95 + 0.9) / 2 - 0.5))
    assert report["ece_after"] == pytest.approx(0.5 * 0.2 + 0.5 * 0.4)
    assert report["map"] == "calibration/offline__m__v.json"


def test_calibration_figures_without_a_map_score_every_day_with_raw_both_ways() -> None:
    raw = CAL_VALUES.assign(confidence=CAL_VALUES["confidence_raw"])
    report = calibration_report(TRUTH, raw, None, "demo")
    assert report["map"] == "none (raw confidence)" and report["scored_on"] == "every day"
    assert report["ece_before"] == report["ece_after"]
