"""Scoring published KPI values against a dataset's truth.

Accuracy alone rewards guessing, so abstention is scored both ways (did we stay silent exactly when
there was nothing to publish?), and confidence is checked for calibration: a 0.9 should be right
nine times in ten. Cost and tokens are reported next to quality so that a cheaper setup can be judged.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from kpi_pipeline.calibration.apply import describe
from kpi_pipeline.calibration.labels import ACCURACY_TOLERANCE, held_out, is_correct, truth_by_pair
from kpi_pipeline.calibration.mapfile import CalibrationMap
from kpi_pipeline.calibration.reliability import reliability

__all__ = ["ACCURACY_TOLERANCE", "as_json", "calibration_report", "score"]


def score(
    truth: pd.DataFrame,
    published: pd.DataFrame,
    candidates: pd.DataFrame | None = None,
    calls: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Quality, calibration and cost of `published` (metric_id, day, value, confidence[, status]).

    `truth` has date, metric, value; an empty value means nothing should be published that day.
    """
    joined = _join(truth, published)
    result = _quality(joined)
    result["grounded_rate"] = _grounded_rate(candidates)
    result["conflicts"] = _conflicts(published)
    result.update(_cost(calls))
    result["per_metric"] = {
        str(metric): {
            **_quality(part),
            "grounded_rate": _grounded_rate(_only(candidates, str(metric))),
            "conflicts": _conflicts(_only(published, str(metric))),
        }
        for metric, part in joined.groupby("metric", sort=True)
    }
    return result


def _join(truth: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    left = pd.DataFrame(
        {
            "metric": truth["metric"].astype(str),
            "day": pd.to_datetime(truth["date"]).dt.date,
            "truth": pd.to_numeric(truth["value"], errors="coerce"),
        }
    )
    right = pd.DataFrame(
        {
            "metric": published["metric_id"].astype(str) if len(published) else pd.Series(dtype=str),
            "day": pd.to_datetime(published["day"]).dt.date if len(published) else pd.Series(dtype=object),
            "value": pd.to_numeric(published["value"], errors="coerce") if len(published) else pd.Series(dtype=float),
            "confidence": (
                pd.to_numeric(published["confidence"], errors="coerce") if len(published) else pd.Series(dtype=float)
            ),
        }
    )
    right = right[right["value"].notna()]
    joined = left.merge(right, on=["metric", "day"], how="left")
    joined["published"] = joined["value"].notna()
    joined["correct"] = [
        _close(t, v) if not math.isnan(t) else False for t, v in zip(joined["truth"], joined["value"], strict=True)
    ]
    return joined


def _close(truth: float, value: float) -> bool:
    return not math.isnan(value) and is_correct(truth, value)


def _quality(joined: pd.DataFrame) -> dict[str, Any]:
    has_truth = joined["truth"].notna()
    silent = ~joined["published"]
    should_be_silent = ~has_truth
    return {
        "days_scored": len(joined),
        "accuracy": _ratio(int((joined["correct"] & has_truth).sum()), int(has_truth.sum())),
        "abstention_precision": _ratio(int((silent & should_be_silent).sum()), int(silent.sum())),
        "abstention_recall": _ratio(int((silent & should_be_silent).sum()), int(should_be_silent.sum())),
        **_calibration(joined[joined["published"]]),
    }


def _calibration(published: pd.DataFrame) -> dict[str, Any]:
    """Expected calibration error over published values, and the reliability table behind it."""
    result = reliability(published["confidence"].to_numpy(), published["correct"].to_numpy())
    return {"ece": result.ece, "reliability": result.table}


def calibration_report(
    truth: pd.DataFrame, values: pd.DataFrame, cmap: CalibrationMap | None, dataset: str
) -> dict[str, Any]:
    """ECE of the raw and the calibrated confidence of every value (extract.metric_values rows with one, the
    gate's input) on days the map was not fitted on: the held-out days of a dataset it was fitted on, every
    day of any other."""
    fitted = cmap is not None and cmap.fitted_on(dataset)
    pairs = truth_by_pair(truth)
    rows = values[pd.to_numeric(values["value"], errors="coerce").notna()]
    days = pd.to_datetime(rows["day"]).dt.date
    keys = list(zip(rows["metric_id"].astype(str), days, strict=True))
    keep = [k in pairs and (not fitted or held_out(k[1])) for k in keys]
    # .loc: an empty list given to [] would select no columns, not no rows (a dataset with no value at all)
    rows, keys = rows.loc[keep], [k for k, kept in zip(keys, keep, strict=True) if kept]
    correct = [is_correct(pairs[k], float(v)) for k, v in zip(keys, rows["value"], strict=True)]
    before = reliability(pd.to_numeric(rows["confidence_raw"]).to_numpy(), correct)
    after = reliability(pd.to_numeric(rows["confidence"]).to_numpy(), correct)
    return {
        "map": describe(cmap),
        "scored_on": "held-out days (the map was fitted on the other days)" if fitted else "every day",
        "readings": len(rows),
        "ece_before": before.ece,
        "ece_after": after.ece,
        "reliability_before": before.table,
        "reliability_after": after.table,
    }


def _grounded_rate(candidates: pd.DataFrame | None) -> float | None:
    if candidates is None or candidates.empty:
        return None
    readings = candidates[candidates["value"].notna()]
    return _ratio(int(readings["grounded"].astype(bool).sum()), len(readings))


def _conflicts(published: pd.DataFrame | None) -> int | None:
    if published is None or "status" not in published.columns:
        return None
    return int((published["status"] == "conflict").sum())


def _cost(calls: pd.DataFrame | None) -> dict[str, Any]:
    if calls is None or calls.empty:
        return {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0, "cost_usd": 0.0, "calls": 0}
    return {
        "input_tokens": int(calls["input_tokens"].sum() + calls["cache_creation_input_tokens"].sum()),
        "output_tokens": int(calls["output_tokens"].sum()),
        "cache_read_input_tokens": int(calls["cache_read_input_tokens"].sum()),
        "cost_usd": round(float(calls["cost_usd"].sum()), 6),
        "calls": len(calls),
    }


def _only(frame: pd.DataFrame | None, metric: str) -> pd.DataFrame | None:
    return None if frame is None or frame.empty else frame[frame["metric_id"] == metric]


def _ratio(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def as_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, default=str)
