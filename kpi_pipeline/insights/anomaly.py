"""Anomaly triage: which published values jump out of their own series, and whether the jump looks real.

Each value is scored with a robust z-score against the values published for the same metric in the previous
`WINDOW_DAYS` days: z = (value - median) / (MAD * 1.4826), the 1.4826 making the MAD comparable to a standard
deviation for normal data. When the MAD is zero (more than half the window repeats one value), the mean absolute
deviation * 1.2533 is the scale instead; a window of identical values is not scored (no scale to judge by). A value
needs `MIN_HISTORY` published values in its window to be scored at all, and is flagged when |z| > `Z_THRESHOLD`.

A flagged jump is labelled:

- `likely extraction` when it coincides with a change of model, prompt version or catalog version from the
  metric's previous published day (the same text read differently), or when it rests on one source type, or when
  its sources disagreed (a conflict);
- `likely real` when two or more distinct source types back it in its evidence and they agreed (status `ok`, so
  within the metric's tolerance), with no version change.

The labels are a triage for a person, never a reason to change a published value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median
from typing import Any, Literal

import pandas as pd

WINDOW_DAYS = 28
MIN_HISTORY = 7  # published values in the window: sparse series (a reading only when text states it) must count
Z_THRESHOLD = 3.5
MAD_SCALE = 1.4826  # MAD -> standard deviation of a normal distribution
MEAN_AD_SCALE = 1.2533  # mean absolute deviation -> standard deviation of a normal distribution

Label = Literal["likely real", "likely extraction"]
LIKELY_REAL: Label = "likely real"
LIKELY_EXTRACTION: Label = "likely extraction"


@dataclass(frozen=True)
class Anomaly:
    """A published value far from its metric's recent values, with the triage label and why."""

    metric_id: str
    day: date
    value: float
    median: float  # of the window
    z: float
    label: Label
    reason: str


@dataclass(frozen=True)
class Point:
    """One published value with what the triage needs to know about it."""

    day: date
    value: float
    status: str
    model: str
    prompt_version: str
    source_types: frozenset[str]
    catalog_version: str | None = None


def robust_z(value: float, history: Iterable[float]) -> float | None:
    """The robust z-score of `value` against `history`, or None when the history has no spread."""
    values = list(history)
    center = median(values)
    mad = median(abs(v - center) for v in values) * MAD_SCALE
    scale = mad or sum(abs(v - center) for v in values) / len(values) * MEAN_AD_SCALE
    if scale == 0:
        return None
    return (value - center) / scale


def triage(point: Point, previous: Point | None) -> tuple[Label, str]:
    """Label a flagged jump by what backs it and whether the way it was read changed."""
    if previous is not None:
        changed = [
            f"{name} {before} -> {after}"
            for name, before, after in (
                ("model", previous.model, point.model),
                ("prompt version", previous.prompt_version, point.prompt_version),
                ("catalog version", previous.catalog_version, point.catalog_version),
            )
            if before is not None and after is not None and before != after
        ]
        if changed:
            return LIKELY_EXTRACTION, f"coincides with a change of {', '.join(changed)} since {previous.day}"
    if point.status == "conflict":
        return LIKELY_EXTRACTION, "its sources disagreed beyond the metric's tolerance (conflict)"
    if len(point.source_types) < 2:
        only = next(iter(point.source_types), "no quoted source")
        return LIKELY_EXTRACTION, f"rests on one source type ({only})"
    return (
        LIKELY_REAL,
        f"{len(point.source_types)} independent source types agree ({', '.join(sorted(point.source_types))})",
    )


def find_anomalies(series: Mapping[str, list[Point]], days: Iterable[date] | None = None) -> list[Anomaly]:
    """Every flagged value among `days` (default: every day) of each metric's series, by metric then day."""
    wanted = set(days) if days is not None else None
    found: list[Anomaly] = []
    for metric_id in sorted(series):
        points = sorted(series[metric_id], key=lambda p: p.day)
        for i, point in enumerate(points):
            if wanted is not None and point.day not in wanted:
                continue
            start = point.day - timedelta(days=WINDOW_DAYS)
            window = [p.value for p in points[:i] if p.day >= start]
            if len(window) < MIN_HISTORY:
                continue
            z = robust_z(point.value, window)
            if z is None or abs(z) <= Z_THRESHOLD:
                continue
            label, reason = triage(point, points[i - 1] if i else None)
            found.append(Anomaly(metric_id, point.day, point.value, median(window), z, label, reason))
    return found


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def series_from_frames(
    facts: pd.DataFrame, evidence: pd.DataFrame, catalog_versions: Mapping[date, str] | None = None
) -> dict[str, list[Point]]:
    """Series from rows of kpi.fct_metric_daily and kpi.fct_metric_evidence (days as `datetime.date`), with the
    catalog version each day was extracted with (extract.day_status) when known."""
    types: dict[tuple[str, date], set[str]] = {}
    evidence_rows: Iterable[Any] = evidence.itertuples(index=False)
    for row in evidence_rows:
        source_type = _text(getattr(row, "source_type", None))
        if source_type:
            types.setdefault((str(row.metric_id), row.day), set()).add(source_type)
    versions = catalog_versions or {}
    series: dict[str, list[Point]] = {}
    fact_rows: Iterable[Any] = facts.itertuples(index=False)
    for row in fact_rows:
        metric_id, day = str(row.metric_id), row.day
        series.setdefault(metric_id, []).append(
            Point(
                day=day,
                value=float(row.value),
                status=str(row.status),
                model=str(row.model),
                prompt_version=str(row.prompt_version),
                source_types=frozenset(types.get((metric_id, day), set())),
                catalog_version=versions.get(day),
            )
        )
    return series


def anomalies_markdown(anomalies: list[Anomaly]) -> str:
    """The flagged values as a markdown table for check metadata."""
    if not anomalies:
        return "no value was flagged"
    lines = ["| metric | day | value | median | z | label | why |", "|---|---|---|---|---|---|---|"]
    lines += [
        f"| {a.metric_id} | {a.day.isoformat()} | {a.value:g} | {a.median:g} | {a.z:.1f} | {a.label} | {a.reason} |"
        for a in anomalies
    ]
    return "\n".join(lines)
