"""Labelling readings against truth: within 1% is right, a value where truth is empty is wrong, abstentions
are counted but not labelled; the held-out split is a fixed function of the day."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from kpi_pipeline.calibration.labels import held_out, label_values, truth_by_pair

DAY = date(2026, 7, 1)
TRUTH = pd.DataFrame(
    {
        "date": ["2026-07-01"] * 4,
        "metric": ["error_rate", "signups", "churn", "mrr"],
        "value": [2.0, None, 5.0, 100.0],
    }
)


def values(*rows: tuple[str, float | None, float]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"metric_id": m, "day": DAY, "value": v, "confidence_raw": c, "grounded": c > 0.3} for m, v, c in rows]
    )


def test_within_one_percent_is_right_and_a_value_on_an_empty_truth_is_wrong() -> None:
    frame = values(("error_rate", 2.019, 0.9), ("signups", 40.0, 0.8), ("mrr", 102.0, 0.7))
    labelled = label_values("demo", frame, truth_by_pair(TRUTH))
    assert [(r.metric_id, r.correct, r.confidence_raw, r.grounded) for r in labelled.readings] == [
        ("error_rate", True, 0.9, True),
        ("signups", False, 0.8, True),
        ("mrr", False, 0.7, True),
    ]
    assert {r.dataset for r in labelled.readings} == {"demo"}


def test_abstentions_are_counted_not_labelled_and_unscored_pairs_are_left_out() -> None:
    frame = values(("churn", None, 0.0), ("not_in_truth", 3.0, 0.9))
    labelled = label_values("demo", frame, truth_by_pair(TRUTH))
    assert labelled.readings == [] and labelled.abstentions == 1


def test_about_a_third_of_days_are_held_out() -> None:
    days = [DAY + timedelta(days=i) for i in range(365)]
    share = sum(held_out(d) for d in days) / len(days)
    assert 0.25 < share < 0.42
