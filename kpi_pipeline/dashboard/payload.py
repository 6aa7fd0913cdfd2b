"""The dashboard data as one compact JSON document for the page's script.

Series are columnar (day offsets, values, confidences, statuses) so 50 KPIs over a year stay small;
repeated strings (model, prompt version, run id, publish time) are stored once in `strings` and referred
to by index. Values are passed through unchanged: rounding is the page's display concern. Each point also
carries the tone of its move from the previous published value (`move_tone`), so the page colours a move
by the metric's direction without deciding anything itself.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from kpi_pipeline.dashboard.data import DashboardData

PAYLOAD_VERSION = 1
COST_COLUMNS = (
    "calls",
    "response_cache_hits",
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
    "cost_usd",
)


def _rows(df: pd.DataFrame) -> Iterator[Any]:
    """Rows as named tuples typed Any: pandas-stubs types each cell as a union of every scalar type."""
    return df.itertuples(index=False)


def _num(value: Any) -> float | int | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool):
        return int(value)
    number = float(value)
    if math.isnan(number):
        return None
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _json_list(value: Any) -> list[Any]:
    """A JSON array column (reasons, evidence, conflict); anything else (NULL, bad JSON) is an empty list."""
    text = _text(value)
    if not text:
        return []
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return [text]
    return parsed if isinstance(parsed, list) else [parsed]


def _stamp(value: Any) -> str | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    return pd.Timestamp(value).isoformat()


class _Strings:
    """Interns repeated strings: each distinct one is stored once and referred to by its index."""

    def __init__(self) -> None:
        self.values: list[str | None] = []
        self._index: dict[str | None, int] = {}

    def __call__(self, value: str | None) -> int:
        if value not in self._index:
            self._index[value] = len(self.values)
            self.values.append(value)
        return self._index[value]


def _evidence_item(item: Any) -> list[str | None]:
    """[source_type, source_id, url, quote] from an evidence object."""
    if not isinstance(item, dict):
        return [None, None, None, _text(item)]
    return [_text(item.get(k)) for k in ("source_type", "source_id", "url", "quote")]


def _conflict_side(side: Any) -> dict[str, Any]:
    if not isinstance(side, dict):
        return {"value": None, "note": _text(side)}
    return {
        "source_type": _text(side.get("source_type")),
        "value": _num(side.get("value")),
        "confidence": _num(side.get("confidence")),
        "grounded": side.get("grounded"),
        "evidence": [_evidence_item(e) for e in side.get("evidence") or []],
    }


def move_tone(direction: str, before: float | None, after: float | None) -> str | None:
    """How a move from `before` to `after` reads: good or bad by the metric's direction, flat when the value
    did not change, neutral when the direction is unknown (a move is then neither), None with nothing before."""
    if before is None or after is None:
        return None
    if after == before:
        return "flat"
    if direction == "higher_is_better":
        return "good" if after > before else "bad"
    if direction == "lower_is_better":
        return "good" if after < before else "bad"
    return "neutral"


def _key_result(row: Any) -> dict[str, Any]:
    day = row.day if isinstance(row.day, date) else None
    return {
        "no": int(row.key_result_no),
        "metric": row.metric_id,
        "baseline": _num(row.baseline),
        "target": _num(row.target),
        "day": day.isoformat() if day else None,
        "value": _num(row.value),
        "is_carried": bool(row.is_carried) if day else None,
        "progress": _num(row.progress),
        "expected": _num(row.expected_progress),
        "status": _text(row.status) if day else None,
    }


def _restatement(row: Any) -> list[Any] | None:
    """[restated on (ISO day), the earlier value (None: it had been withdrawn), reason, note] or None."""
    if row is None:
        return None
    return [pd.Timestamp(row.restated_at).date().isoformat(), _num(row.was), _text(row.reason), _text(row.note)]


def build_payload(data: DashboardData, generated_at: datetime | None = None) -> dict[str, Any]:
    """The JSON-able document the page renders; day offsets count from `window.start`."""
    strings = _Strings()

    def offset(day: date) -> int:
        return (day - data.first_day).days

    evidence: dict[tuple[str, date], list[list[str | None]]] = defaultdict(list)
    for ev in _rows(data.evidence):
        evidence[(ev.metric_id, ev.day)].append(
            [_text(ev.source_type), _text(ev.source_id), _text(ev.url), _text(ev.quote)]
        )
    explained = {(r.metric_id, r.day): r for r in _rows(data.explanations)}
    restated = {(r.metric_id, r.day): r for r in _rows(data.restatements)}

    direction = {m.metric_id: str(m.direction) for m in _rows(data.metrics)}
    points: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for f in _rows(data.facts):
        series = points[f.metric_id]
        why = explained.get((f.metric_id, f.day))
        value = _num(f.value)
        before = series["v"][-1] if series["v"] else None
        series["d"].append(offset(f.day))
        series["v"].append(value)
        series["t"].append(move_tone(direction.get(f.metric_id, "unknown"), before, value))
        series["c"].append(_num(f.confidence))
        series["s"].append(_text(f.status))
        series["n"].append(_num(f.n_sources))
        series["info"].append(
            [
                strings(_text(f.model)),
                strings(_text(f.prompt_version)),
                strings(_text(f.run_id)),
                strings(_stamp(f.published_at)),
                _text(why.reasoning) if why is not None else None,
                evidence.get((f.metric_id, f.day), []),
                [_conflict_side(s) for s in _json_list(why.conflict)] if why is not None else [],
                _restatement(restated.get((f.metric_id, f.day))),
            ]
        )
    held: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for q in _rows(data.quarantine):
        series = held[q.metric_id]
        why = explained.get((q.metric_id, q.day))
        series["d"].append(offset(q.day))
        series["v"].append(_num(q.value))
        series["c"].append(_num(q.confidence))
        series["info"].append(
            [
                [str(r) for r in _json_list(q.reasons)],
                [_evidence_item(e) for e in _json_list(q.evidence)],
                strings(_text(q.run_id)),
                _text(why.reasoning) if why is not None else None,
            ]
        )

    objectives_of: dict[str, list[str]] = defaultdict(list)
    key_results: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for kr in _rows(data.key_results):
        key_results[kr.objective_id].append(_key_result(kr))
        if kr.objective_id not in objectives_of[kr.metric_id]:
            objectives_of[kr.metric_id].append(kr.objective_id)

    costs = data.costs
    totals = data.quarter_costs.iloc[0] if not data.quarter_costs.empty else None
    return {
        "version": PAYLOAD_VERSION,
        "generated_at": (generated_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "quarter": {
            "id": data.quarter,
            "start": data.quarter_start.isoformat(),
            "end": data.quarter_end.isoformat(),
            "as_of": data.as_of.isoformat() if data.as_of else None,
        },
        "window": {"start": data.first_day.isoformat(), "end": data.quarter_end.isoformat()},
        "strings": strings.values,
        "objectives": [
            {
                "id": o.objective_id,
                "title": o.title,
                "at_risk_below": _num(o.at_risk_below),
                "off_track_below": _num(o.off_track_below),
                "key_results": key_results.get(o.objective_id, []),
            }
            for o in _rows(data.objectives)
        ],
        "metrics": [
            {
                "id": m.metric_id,
                "description": m.description,
                "unit": m.unit,
                "direction": m.direction,
                "min_value": _num(m.min_value),
                "max_value": _num(m.max_value),
                "min_confidence": _num(m.min_confidence),
                "objectives": objectives_of.get(m.metric_id, []),
                "points": dict(
                    points.get(m.metric_id, {"d": [], "v": [], "t": [], "c": [], "s": [], "n": [], "info": []})
                ),
                "quarantine": dict(held.get(m.metric_id, {"d": [], "v": [], "c": [], "info": []})),
            }
            for m in _rows(data.metrics)
        ],
        "costs": {
            "d": [offset(d) for d in costs["day"]],
            **{column: [_num(v) for v in costs[column]] for column in COST_COLUMNS},
            "quarter": {column: _num(totals[column]) if totals is not None else None for column in COST_COLUMNS},
        },
    }


def payload_json(payload: dict[str, Any]) -> str:
    """Compact JSON that is safe inside a <script> element: `<`, `>` and `&` are written as \\u escapes."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
