"""Labelled readings: (raw confidence, was the value right?) pairs, and the day-hash split into fit and held out.

Labels come from any source of judged readings: a dataset's truth.csv today, review decisions later (an
accepted value is right, a rejected or overridden one wrong). The fit takes an iterable of `LabelledReading`,
so a new source only has to produce them. A reading without a value (an abstention) claims nothing about a
value, so it is not labelled: `label_values` counts them instead.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import pandas as pd

ACCURACY_TOLERANCE = 0.01  # relative, as kpi-pipeline eval scores accuracy
HELD_OUT_EVERY = 3  # one day in three (by hash) is held out


@dataclass(frozen=True)
class LabelledReading:
    dataset: str  # where the label came from: a dataset folder's name, later a review file
    metric_id: str
    day: date
    confidence_raw: float
    correct: bool
    grounded: bool = True  # an ungrounded reading stays under the grounding cap after calibration


@dataclass(frozen=True)
class Labelled:
    readings: list[LabelledReading]
    abstentions: int  # (metric, day) pairs with a truth row but no value: not labelled


def held_out(day: date) -> bool:
    """Deterministic, and the same for every dataset and backend: sha256 of the ISO day, modulo 3, is 0."""
    return int(hashlib.sha256(day.isoformat().encode()).hexdigest(), 16) % HELD_OUT_EVERY == 0


def is_correct(truth: float, value: float) -> bool:
    """Within 1% of the truth; any value where the truth is empty (nothing to publish) is wrong."""
    if math.isnan(truth):
        return False
    return abs(value - truth) <= ACCURACY_TOLERANCE * max(abs(truth), 1e-9)


def truth_by_pair(truth: pd.DataFrame) -> dict[tuple[str, date], float]:
    """truth.csv (date, metric, value) as {(metric, day): value}, NaN for an empty value."""
    days = pd.to_datetime(truth["date"]).dt.date
    values = pd.to_numeric(truth["value"], errors="coerce")
    return {(str(m), d): float(v) for m, d, v in zip(truth["metric"], days, values, strict=True)}


def label_values(dataset: str, values: pd.DataFrame, truth: Mapping[tuple[str, date], float]) -> Labelled:
    """Label extract.metric_values rows (metric_id, day, value, confidence_raw, grounded) against `truth`; rows
    whose pair truth does not score are left out."""
    readings: list[LabelledReading] = []
    abstentions = 0
    days = pd.to_datetime(values["day"]).dt.date
    numbers = pd.to_numeric(values["value"], errors="coerce").astype(float)
    raw = pd.to_numeric(values["confidence_raw"], errors="coerce").astype(float)
    grounded = values["grounded"].fillna(False).astype(bool)
    rows = zip(values["metric_id"].astype(str), days, numbers, raw, grounded, strict=True)
    for metric, day, value, confidence, is_grounded in rows:
        if (metric, day) not in truth:
            continue
        if math.isnan(value):
            abstentions += 1
            continue
        right = is_correct(truth[(metric, day)], value)
        readings.append(LabelledReading(dataset, metric, day, confidence, right, bool(is_grounded)))
    return Labelled(readings, abstentions)
