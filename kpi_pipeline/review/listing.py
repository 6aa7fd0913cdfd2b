"""What waits for a person: quarantined readings, published ones of low confidence, and readings that changed
under an override, each with its quotes, sources and reasons, read from the warehouse."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from kpi_pipeline.review.overrides import Override, match, reading_fingerprint
from kpi_pipeline.warehouse import Warehouse

LOW_CONFIDENCE_MARGIN = 0.1  # published within this much of the metric's min_confidence: worth a look


@dataclass(frozen=True)
class Pending:
    """One reading a reviewer should decide on."""

    kind: str  # quarantined | low_confidence | override_stale
    metric: str
    day: date
    value: float | None
    confidence: float | None
    status: str  # the reading's status in extract.metric_values
    reasons: tuple[str, ...]
    evidence: tuple[dict[str, Any], ...]
    reasoning: str
    fingerprint: str
    previous: Override | None = field(default=None)  # the stale decision

    def lines(self, number: int) -> list[str]:
        value = "no value" if self.value is None else f"{self.value:g}"
        confidence = "" if self.confidence is None else f" (confidence {self.confidence:.2f})"
        out = [
            f"[{number}] {self.metric} on {self.day.isoformat()}: {value}{confidence}, {self.kind.replace('_', ' ')}"
        ]
        if self.previous is not None:
            out.append(f"    earlier decision, on another reading: {self.previous.note()}")
        out += [f"    reason: {r}" for r in self.reasons]
        for item in self.evidence:
            where = " ".join(str(item[k]) for k in ("source_type", "source_id", "url") if item.get(k))
            out.append(f'    "{item.get("quote", "")}"  ({where})')
        if self.reasoning:
            out.append(f"    model: {self.reasoning}")
        out.append(f"    reading {self.fingerprint}")
        return out


def reading_rows(wh: Warehouse, keys: Sequence[tuple[str, date]]) -> dict[tuple[str, date], dict[str, Any]]:
    """The extract.metric_values rows of the (metric, day) `keys`."""
    days = sorted({d for _, d in keys})
    if not days:
        return {}
    marks = ", ".join("?" for _ in days)
    df = wh.query_df(f"SELECT * FROM extract.metric_values WHERE day IN ({marks})", days)
    wanted = set(keys)
    rows: dict[tuple[str, date], dict[str, Any]] = {}
    for r in df.to_dict("records"):
        key = (str(r["metric_id"]), pd.Timestamp(r["day"]).date())
        if key in wanted:
            rows[key] = {str(k): v for k, v in r.items()}
    return rows


def pending(
    wh: Warehouse,
    overrides: Sequence[Override],
    *,
    since: date | None = None,
    metric: str | None = None,
    margin: float = LOW_CONFIDENCE_MARGIN,
) -> list[Pending]:
    """Every reading to review (in day, metric order), leaving out those a current decision covers."""
    where, params = _filters(since, metric, "q.")
    quarantined = wh.query_df(
        f"SELECT q.metric_id, q.day, q.reasons FROM kpi.metric_quarantine AS q WHERE {where}", params
    )
    where, params = _filters(since, metric, "f.")
    low = wh.query_df(
        "SELECT f.metric_id, f.day FROM kpi.fct_metric_daily AS f "
        "JOIN kpi.dim_metric AS d ON d.metric_id = f.metric_id "
        f"WHERE {where} AND f.confidence < d.min_confidence + ? AND f.status IN ('ok', 'conflict')",
        [*params, margin],
    )
    reasons = {
        (str(m), pd.Timestamp(d).date()): tuple(_json_list(r)) for m, d, r in quarantined.itertuples(index=False)
    }
    kinds: dict[tuple[str, date], str] = dict.fromkeys(reasons, "quarantined")
    for m, d in low.itertuples(index=False):
        kinds.setdefault((str(m), pd.Timestamp(d).date()), "low_confidence")
    chosen = [o for o in overrides if (since is None or o.day >= since) and (metric is None or o.metric == metric)]
    rows = reading_rows(wh, [*kinds, *(o.key for o in chosen)])
    matches = match(chosen, pd.DataFrame(list(rows.values())) if rows else None)
    decided = {m.override.key for m in matches if not m.stale}
    stale = {m.override.key: m.override for m in matches if m.stale and m.override.key in rows}
    for key in stale:
        kinds[key] = "override_stale"
    out = []
    for key, kind in kinds.items():
        row = rows.get(key)
        if row is None or key in decided or row.get("status") == "unread":
            continue
        out.append(_pending(kind, key, row, reasons.get(key, ()), stale.get(key)))
    return sorted(out, key=lambda p: (p.day, p.metric))


def days_decided_since_published(wh: Warehouse, overrides: Sequence[Override], days: Sequence[date]) -> set[date]:
    """Days of `days` with a decision taken after the day was last published: a backfill must publish them
    again (even when it could skip them) so the decision takes effect."""
    decided = {o.day for o in overrides} & set(days)
    if not decided:
        return set()
    marks = ", ".join("?" for _ in decided)
    status = wh.query_df(f"SELECT day, published_at FROM extract.day_status WHERE day IN ({marks})", sorted(decided))
    published = {pd.Timestamp(d).date(): p for d, p in status.itertuples(index=False)}
    return {
        o.day
        for o in overrides
        if o.day in decided and (pd.isna(published.get(o.day)) or o.at > pd.Timestamp(published[o.day]))
    }


def _filters(since: date | None, metric: str | None, alias: str) -> tuple[str, list[Any]]:
    clauses: list[str] = ["1 = 1"]
    params: list[Any] = []
    if since is not None:
        clauses.append(f"{alias}day >= ?")
        params.append(since)
    if metric is not None:
        clauses.append(f"{alias}metric_id = ?")
        params.append(metric)
    return " AND ".join(clauses), params


def _pending(
    kind: str, key: tuple[str, date], row: dict[str, Any], reasons: Sequence[str], previous: Override | None
) -> Pending:
    value = _number(row.get("value"))
    return Pending(
        kind=kind,
        metric=key[0],
        day=key[1],
        value=value,
        confidence=_number(row.get("confidence")),
        status=str(row.get("status")),
        reasons=tuple(reasons),
        evidence=tuple(i for i in _json_list(row.get("evidence")) if isinstance(i, dict)),
        reasoning=str(row.get("reasoning") or ""),
        fingerprint=reading_fingerprint(row.get("value"), row.get("evidence")),
        previous=previous,
    )


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _json_list(text: Any) -> list[Any]:
    if not isinstance(text, str) or not text.strip():
        return []
    try:
        items = json.loads(text)
    except json.JSONDecodeError:
        return []
    return items if isinstance(items, list) else []
