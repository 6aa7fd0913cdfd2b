"""The published tables `ask` answers from, read once into typed rows (the offline answerer is pure on them)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kpi_pipeline.ask.reader import KpiReader
from kpi_pipeline.query import QueryError

LOAD_LIMIT = 2_000_000  # rows of one table read at once; a bigger warehouse is refused, never cut short


@dataclass(frozen=True)
class MetricInfo:
    metric_id: str
    description: str
    unit: str
    direction: str


@dataclass(frozen=True)
class Quote:
    text: str
    source_type: str | None
    source_id: str | None
    url: str | None


@dataclass(frozen=True)
class Fact:
    metric_id: str
    day: date
    value: float
    confidence: float
    status: str  # ok or conflict
    n_sources: int
    quotes: tuple[Quote, ...]


@dataclass(frozen=True)
class HeldBack:
    metric_id: str
    day: date
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class KeyResultDay:
    objective_id: str
    objective_title: str
    key_result_no: int
    metric_id: str
    day: date
    value: float | None
    is_carried: bool
    baseline: float
    target: float
    progress: float | None
    expected_progress: float
    status: str | None


@dataclass
class KpiData:
    metrics: dict[str, MetricInfo]
    facts: dict[tuple[str, date], Fact]
    held_back: list[HeldBack]
    progress: list[KeyResultDay]
    objective_titles: dict[str, str] = field(default_factory=dict)

    def series(self, metric_id: str, first: date | None = None, last: date | None = None) -> list[Fact]:
        """The metric's published values by day, within [first, last] when given."""
        return sorted(
            (
                f
                for (m, d), f in self.facts.items()
                if m == metric_id and (first is None or d >= first) and (last is None or d <= last)
            ),
            key=lambda f: f.day,
        )

    def last_day(self) -> date | None:
        return max((d for _, d in self.facts), default=None)


def _all(reader: KpiReader, sql: str) -> list[dict[str, Any]]:
    rows = reader.select(sql, max_rows=LOAD_LIMIT)
    if rows.truncated:
        raise QueryError(f"more than {LOAD_LIMIT} rows in {sql.split('FROM ', 1)[1].split()[0]}: too big for ask")
    return rows.records()


def load_kpi_data(reader: KpiReader) -> KpiData:
    metrics = {
        str(r["metric_id"]): MetricInfo(str(r["metric_id"]), str(r["description"]), str(r["unit"]), str(r["direction"]))
        for r in _all(reader, "SELECT metric_id, description, unit, direction FROM kpi.dim_metric")
    }
    quotes: dict[tuple[str, date], list[Quote]] = {}
    evidence_sql = (
        "SELECT metric_id, day, quote, source_type, source_id, url FROM kpi.fct_metric_evidence "
        "ORDER BY metric_id, day, evidence_no"
    )
    for r in _all(reader, evidence_sql):
        key = (str(r["metric_id"]), _day(r["day"]))
        quotes.setdefault(key, []).append(
            Quote(str(r["quote"]), _opt(r["source_type"]), _opt(r["source_id"]), _opt(r["url"]))
        )
    facts = {}
    for r in _all(reader, "SELECT metric_id, day, value, confidence, status, n_sources FROM kpi.fct_metric_daily"):
        key = (str(r["metric_id"]), _day(r["day"]))
        facts[key] = Fact(
            key[0],
            key[1],
            float(r["value"]),
            float(r["confidence"]),
            str(r["status"]),
            int(r["n_sources"]),
            tuple(quotes.get(key, ())),
        )
    held = [
        HeldBack(str(r["metric_id"]), _day(r["day"]), tuple(str(x) for x in json.loads(str(r["reasons"]) or "[]")))
        for r in _all(reader, "SELECT metric_id, day, reasons FROM kpi.metric_quarantine ORDER BY day, metric_id")
    ]
    progress_sql = (
        "SELECT objective_id, objective_title, key_result_no, metric_id, day, value, is_carried, baseline, target, "
        "progress, expected_progress, status FROM kpi.okr_progress ORDER BY objective_id, key_result_no, day"
    )
    progress = [
        KeyResultDay(
            str(r["objective_id"]),
            str(r["objective_title"]),
            int(r["key_result_no"]),
            str(r["metric_id"]),
            _day(r["day"]),
            _float(r["value"]),
            bool(r["is_carried"]),
            float(r["baseline"]),
            float(r["target"]),
            _float(r["progress"]),
            float(r["expected_progress"]),
            _opt(r["status"]),
        )
        for r in _all(reader, progress_sql)
    ]
    titles = {
        str(r["objective_id"]): str(r["title"])
        for r in _all(reader, "SELECT objective_id, title FROM kpi.okr_objectives")
    }
    return KpiData(metrics, facts, held, progress, titles)


def _day(value: object) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
