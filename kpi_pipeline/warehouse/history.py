"""kpi.fct_metric_history: every version of each published (metric, day), written in the day's publish.

Before a day's facts are replaced, the rows about to go are compared with the rows about to come. A
(metric, day) whose value, confidence, status, model or prompt version changes closes its current version
(`valid_to`) and opens the next one with why: `override` when a reviewer's decision made it, `removed` when
the value was withdrawn, `prompt_version`, `model` or `catalog` when the reading came from a different
one, else `backfill` or `rerun` from the run. Nothing that stays the same adds a row, so a rerun that
changes nothing leaves the history as it was. A fact published before this table existed gets its first
version from fct_metric_daily the first time its day is published again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd

from kpi_pipeline.warehouse.engine import Transaction, python_value
from kpi_pipeline.warehouse.tables import DAY_STATUS, FCT_METRIC_DAILY, FCT_METRIC_HISTORY

COMPARED = ("value", "confidence", "status", "model", "prompt_version")
TRIGGERS = ("rerun", "backfill")


def record_day(
    tx: Transaction,
    day: date,
    new_facts: pd.DataFrame,
    keep: Sequence[str],
    *,
    run_id: str,
    published_at: datetime,
    trigger: str,
    notes: Mapping[str, str],
) -> int:
    """Add the versions `new_facts` (the day's fct_metric_daily rows to be) make, inside the publish's
    transaction and before its delete; returns how many published values they restate (changed or withdrew).
    Metrics in `keep` keep their version."""
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {TRIGGERS}, not {trigger!r}")
    old = _by_metric(tx.query_df(f"SELECT * FROM {FCT_METRIC_DAILY.qualified} WHERE day = ?", [day]))
    current = _by_metric(
        tx.query_df(f"SELECT * FROM {FCT_METRIC_HISTORY.qualified} WHERE day = ? AND valid_to IS NULL", [day])
    )
    catalog = tx.query_df(f"SELECT catalog_version FROM {DAY_STATUS.qualified} WHERE day = ?", [day])
    catalog_version = python_value(catalog.iat[0, 0]) if not catalog.empty else None
    new = _by_metric(new_facts)
    rows: list[dict[str, Any]] = []
    closes: list[tuple[str, int]] = []
    restated = 0
    for metric in sorted((set(old) | set(new) | set(current)) - set(keep)):
        cur = current.get(metric)
        if cur is None and metric in old:  # published before the history existed: its first version
            cur = _seed(old[metric], day)
            rows.append(cur)
        if metric not in new and (cur is None or cur["value"] is None):
            continue  # not published, and nothing to withdraw
        if metric in new and cur is not None and _same(cur, new[metric]):
            continue
        version = 1 if cur is None else int(cur["version"]) + 1
        reason = _reason(cur, new.get(metric), catalog_version, trigger, metric in notes)
        if cur is not None:
            closes.append((metric, int(cur["version"])))
            restated += 1
        fact = new.get(metric, {})
        rows.append(
            {
                "metric_id": metric,
                "day": day,
                "version": version,
                **{c: fact.get(c) for c in COMPARED},
                "catalog_version": catalog_version if fact else None,
                "reason": reason,
                "note": notes.get(metric),
                "run_id": run_id,
                "valid_from": published_at,
                "valid_to": None,
            }
        )
    for metric, version in closes:
        seeded = next((r for r in rows if r["metric_id"] == metric and r["version"] == version), None)
        if seeded is not None:
            seeded["valid_to"] = published_at
            continue
        tx.execute(
            f"UPDATE {FCT_METRIC_HISTORY.qualified} SET valid_to = ? WHERE metric_id = ? AND day = ? AND version = ?",
            [published_at, metric, day, version],
        )
    if rows:
        tx.insert_df(FCT_METRIC_HISTORY, pd.DataFrame(rows, columns=FCT_METRIC_HISTORY.column_names))
    return restated


def _by_metric(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {str(r["metric_id"]): {str(k): python_value(v) for k, v in r.items()} for r in frame.to_dict("records")}


def _seed(fact: Mapping[str, Any], day: date) -> dict[str, Any]:
    return {
        "metric_id": fact["metric_id"],
        "day": day,
        "version": 1,
        **{c: fact.get(c) for c in COMPARED},
        "catalog_version": None,
        "reason": "published",
        "note": None,
        "run_id": fact.get("run_id") or "unknown",
        "valid_from": fact["published_at"],
        "valid_to": None,
    }


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    for column in COMPARED:
        x, y = a.get(column), b.get(column)
        if isinstance(x, float) and isinstance(y, float):
            if not math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12):
                return False
        elif x != y:
            return False
    return True


def _reason(
    cur: Mapping[str, Any] | None, new: Mapping[str, Any] | None, catalog_version: Any, trigger: str, override: bool
) -> str:
    if override:
        return "override"
    if new is None:
        return "removed"
    if cur is None:
        return "published"
    if cur.get("prompt_version") and new.get("prompt_version") != cur["prompt_version"]:
        return "prompt_version"
    if cur.get("model") and new.get("model") != cur["model"]:
        return "model"
    if cur.get("catalog_version") and catalog_version and catalog_version != cur["catalog_version"]:
        return "catalog"
    return trigger
