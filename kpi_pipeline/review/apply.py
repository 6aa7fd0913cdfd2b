"""Applying overrides to a day the gate lets publish: what reaches the facts, what stays in quarantine.

A fresh override (its reading is the one decided on) wins over the gate: `accept` publishes the reading
with status `accepted`, `set` publishes the reviewer's value with status `overridden` (confidence 1, the
reading's evidence kept), `reject` keeps the reading out of the facts and in quarantine with the reviewer's
reason. A stale override (the reading changed or vanished) is not applied, and its metric keeps whatever
version it had published, as an unread one does, until someone reviews the new reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kpi_pipeline.review.overrides import Override, match

ACCEPTED = "accepted"
OVERRIDDEN = "overridden"


@dataclass(frozen=True)
class Applied:
    publish: pd.DataFrame  # rows to publish (metric_values columns)
    quarantine: pd.DataFrame  # rows to quarantine (metric_values columns plus `reasons`)
    stale: tuple[Override, ...] = ()  # not applied: their metrics keep their previous version
    notes: dict[str, str] = field(default_factory=dict)  # metric id -> the override applied to it


def apply_overrides(
    publish: pd.DataFrame, quarantine: pd.DataFrame, values: pd.DataFrame, overrides: Sequence[Override]
) -> Applied:
    """The day's gate routing (`publish`, `quarantine`) after the day's `overrides`; `values` are the day's
    extract.metric_values rows the gate read."""
    if not overrides:
        return Applied(publish, quarantine)
    by_metric = {str(r["metric_id"]): r for r in values.to_dict("records")}
    unread = {m for m, r in by_metric.items() if r.get("status") == "unread"}
    decided = [m for m in match(overrides, values) if m.override.metric not in unread]  # unread: kept anyway
    touched = {m.override.metric for m in decided}
    previous_reasons = {str(r["metric_id"]): list(r["reasons"]) for r in quarantine.to_dict("records")}
    publish = publish[~publish["metric_id"].isin(touched)]
    quarantine = quarantine[~quarantine["metric_id"].isin(touched)]
    added_publish: list[dict[str, Any]] = []
    added_quarantine: list[dict[str, Any]] = []
    notes: dict[str, str] = {}
    stale: list[Override] = []
    for m in decided:
        o = m.override
        if m.stale:
            stale.append(o)
            continue
        row: dict[str, Any] = {str(k): v for k, v in by_metric[o.metric].items()}
        notes[o.metric] = o.note()
        if o.action == "accept" and pd.notna(row.get("value")):
            added_publish.append(row | {"status": ACCEPTED})
        elif o.action == "set":
            added_publish.append(row | {"status": OVERRIDDEN, "value": o.value, "confidence": 1.0})
        elif o.action == "reject" and pd.notna(row.get("value")):
            reasons = previous_reasons.get(o.metric, [])
            added_quarantine.append(row | {"reasons": [*reasons, f"rejected: {o.note()}"]})
    return Applied(
        publish=_concat(publish, added_publish),
        quarantine=_concat(quarantine, added_quarantine),
        stale=tuple(stale),
        notes=notes,
    )


def _concat(frame: pd.DataFrame, rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return frame.reset_index(drop=True)
    added = pd.DataFrame(rows)
    if frame.empty:
        return added
    return pd.concat([frame, added[[c for c in frame.columns if c in added.columns]]], ignore_index=True)
