"""The weekly digest: per objective what moved and by how much, then what needs a person's eye.

Computed from the published tables only (facts, evidence, quarantine, OKR progress, and the history of restated
values when that table exists), so the digest never says anything a BI tool could not show. Each statement names
its metric and day and carries the quote and source link the value was published with. Order: objectives with an
off-track key result first, then at risk; inside an objective its key results by status, then the moves, largest
relative move first.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd

from kpi_pipeline.insights.anomaly import Anomaly
from kpi_pipeline.warehouse.publish import bi_url

STATUS_ORDER = {"off_track": 0, "at_risk": 1, "on_track": 2}
STATUS_WORDS = {"off_track": "off track", "at_risk": "at risk", "on_track": "on track"}


@dataclass(frozen=True)
class Statement:
    """One thing the digest says, with the quote and link behind it."""

    metric_id: str
    day: str  # ISO day the statement is about
    text: str
    quote: str | None = None
    url: str | None = None
    status: str | None = None  # a key result's status, an anomaly's label


@dataclass(frozen=True)
class ObjectiveDigest:
    objective_id: str
    title: str
    status: str | None  # the worst status among its key results at the week's end
    key_results: tuple[Statement, ...]
    moves: tuple[Statement, ...]


@dataclass(frozen=True)
class Digest:
    week_start: date
    week_end: date
    objectives: tuple[ObjectiveDigest, ...]
    other_moves: tuple[Statement, ...]  # metrics no objective of the week tracks
    conflicts: tuple[Statement, ...]
    quarantined: tuple[Statement, ...]
    restatements: tuple[Statement, ...]
    anomalies: tuple[Statement, ...]
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> str:
        document = asdict(self)
        document["week_start"], document["week_end"] = self.week_start.isoformat(), self.week_end.isoformat()
        return json.dumps(document, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Digest:
        d = json.loads(text)

        def statements(items: Iterable[dict[str, Any]]) -> tuple[Statement, ...]:
            return tuple(Statement(**i) for i in items)

        return cls(
            week_start=date.fromisoformat(d["week_start"]),
            week_end=date.fromisoformat(d["week_end"]),
            objectives=tuple(
                ObjectiveDigest(
                    o["objective_id"], o["title"], o["status"], statements(o["key_results"]), statements(o["moves"])
                )
                for o in d["objectives"]
            ),
            other_moves=statements(d["other_moves"]),
            conflicts=statements(d["conflicts"]),
            quarantined=statements(d["quarantined"]),
            restatements=statements(d["restatements"]),
            anomalies=statements(d["anomalies"]),
            notes=tuple(d.get("notes") or ()),
        )

    @property
    def sections(self) -> list[tuple[str, tuple[Statement, ...]]]:
        """The sections after the objectives, in the order they are shown; empty ones included."""
        return [
            ("Other KPIs that moved", self.other_moves),
            ("New conflicts between sources", self.conflicts),
            ("Held back by the quality gate", self.quarantined),
            ("Restated values", self.restatements),
            ("Anomalies", self.anomalies),
        ]


@dataclass(frozen=True)
class DigestInputs:
    """Rows of the published tables the digest reads (days as `datetime.date`).

    facts/evidence cover at least the week and the days before it that hold each metric's previous value;
    progress holds okr_progress rows of the week's last day and of the day before the week (status then).
    """

    facts: pd.DataFrame  # kpi.fct_metric_daily
    evidence: pd.DataFrame  # kpi.fct_metric_evidence
    quarantine: pd.DataFrame  # kpi.metric_quarantine of the week
    metrics: pd.DataFrame  # kpi.dim_metric
    progress: pd.DataFrame  # kpi.okr_progress
    history: pd.DataFrame | None = None  # kpi.fct_metric_history: versions of the values restated in the week
    anomalies: tuple[Anomaly, ...] = ()


def _rows(df: pd.DataFrame | None) -> Iterator[Any]:
    if df is None:
        return iter(())
    return df.itertuples(index=False)


def _fmt(value: float, sign: str = "") -> str:
    """4 significant digits below 1000, whole numbers with thousands separators above (never 1.18e+04)."""
    return f"{value:{sign}.4g}" if abs(value) < 1000 else f"{value:{sign},.0f}"


def _pct(share: float) -> str:
    """A relative change as a percentage: whole above 10%, two significant digits below (never "-0%")."""
    percent = share * 100
    return f"{percent:+.0f}%" if abs(percent) >= 10 else f"{percent:+.2g}%"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


class _Quotes:
    """The first quote (and its link) behind each published (metric, day)."""

    def __init__(self, evidence: pd.DataFrame) -> None:
        self._first: dict[tuple[str, date], tuple[str, str | None]] = {}
        for row in _rows(evidence.sort_values("evidence_no") if "evidence_no" in evidence else evidence):
            self._first.setdefault((str(row.metric_id), row.day), (str(row.quote), bi_url(row.url)))

    def of(self, metric_id: str, day: date) -> tuple[str | None, str | None]:
        return self._first.get((metric_id, day), (None, None))


def _evidence_json(value: Any) -> tuple[str | None, str | None]:
    """The first quote and safe link of a JSON evidence column (kpi.metric_quarantine)."""
    try:
        items = json.loads(value) if isinstance(value, str) else []
    except json.JSONDecodeError:
        return None, None
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("quote"):
            return str(item["quote"]), bi_url(item.get("url"))
    return None, None


def _reasons(value: Any) -> str:
    try:
        reasons = json.loads(value) if isinstance(value, str) else []
    except json.JSONDecodeError:
        return str(value)
    return "; ".join(str(r) for r in reasons) if isinstance(reasons, list) else str(reasons)


def moves(inputs: DigestInputs, quotes: _Quotes, week_start: date, week_end: date) -> dict[str, Statement]:
    """Per metric published in the week: its last value of the week against its last value before it."""
    units = {str(m.metric_id): str(m.unit) for m in _rows(inputs.metrics)}
    found: dict[str, tuple[float, Statement]] = {}
    facts = inputs.facts.sort_values(["metric_id", "day"])
    for metric_id, rows in facts.groupby("metric_id", sort=True):
        metric = str(metric_id)
        before = rows[rows["day"] < week_start]
        inside = rows[(rows["day"] >= week_start) & (rows["day"] <= week_end)]
        if inside.empty:
            continue
        last = inside.iloc[-1]
        first = before.iloc[-1] if not before.empty else inside.iloc[0]
        if first["day"] == last["day"]:
            continue
        old, new = float(first["value"]), float(last["value"])
        change = new - old
        relative = change / abs(old) if old else (math.inf if change else 0.0)
        pct = f", {_pct(relative)}" if math.isfinite(relative) else ""
        unit = f" {units[metric]}" if units.get(metric) else ""
        text = (
            f"{metric} {_fmt(old)} → {_fmt(new)}{unit} ({_fmt(change, '+')}{pct}) from {first['day']} to {last['day']}"
            if change
            else f"{metric} unchanged at {_fmt(new)}{unit} from {first['day']} to {last['day']}"
        )
        quote, url = quotes.of(metric, last["day"])
        found[metric] = (abs(relative), Statement(metric, last["day"].isoformat(), text, quote, url))
    ordered = sorted(found.items(), key=lambda kv: (-kv[1][0] if math.isfinite(kv[1][0]) else -math.inf, kv[0]))
    return {metric: statement for metric, (_, statement) in ordered}


def _key_results(inputs: DigestInputs, quotes: _Quotes, week_start: date, week_end: date) -> dict[str, Any]:
    """objective id -> (title, [(status, Statement)]) from okr_progress at the week's end."""
    progress = inputs.progress
    end_rows = progress[progress["day"] <= week_end]
    objectives: dict[str, Any] = {}
    if end_rows.empty:
        return objectives
    latest = end_rows[end_rows["day"] == end_rows["day"].max()]
    before_day = week_start - timedelta(days=1)
    earlier = {
        (str(r.objective_id), int(r.key_result_no)): str(r.status) for r in _rows(progress) if r.day == before_day
    }
    for r in _rows(latest.sort_values(["objective_id", "key_result_no"])):
        status = str(r.status)
        was = earlier.get((str(r.objective_id), int(r.key_result_no)))
        turned = f", was {STATUS_WORDS.get(was, was)} before the week" if was and was != status else ""
        value_day = r.day
        if bool(r.is_carried):
            facts = inputs.facts[(inputs.facts["metric_id"] == r.metric_id) & (inputs.facts["day"] <= r.day)]
            value_day = facts["day"].max() if not facts.empty else r.day
        quote, url = quotes.of(str(r.metric_id), value_day)
        text = (
            f"{r.metric_id}: {STATUS_WORDS.get(status, status)}{turned}: progress {r.progress:.0%} of the "
            f"{r.expected_progress:.0%} expected by {r.day} (value {_fmt(float(r.value))} on {value_day}, "
            f"baseline {_fmt(float(r.baseline))}, target {_fmt(float(r.target))})"
        )
        entry = objectives.setdefault(str(r.objective_id), (str(r.objective_title), []))
        entry[1].append((status, Statement(str(r.metric_id), value_day.isoformat(), text, quote, url, status)))
    return objectives


def _conflicts(inputs: DigestInputs, quotes: _Quotes, week_start: date, week_end: date) -> list[Statement]:
    facts = inputs.facts
    found = facts[(facts["status"] == "conflict") & (facts["day"] >= week_start) & (facts["day"] <= week_end)]
    out = []
    for r in _rows(found.sort_values(["metric_id", "day"])):
        quote, url = quotes.of(str(r.metric_id), r.day)
        text = (
            f"{r.metric_id} on {r.day}: sources disagreed; the most authoritative reading {_fmt(r.value)} was published"
        )
        out.append(Statement(str(r.metric_id), r.day.isoformat(), text, quote, url, "conflict"))
    return out


def _quarantined(inputs: DigestInputs) -> list[Statement]:
    out = []
    for r in _rows(inputs.quarantine.sort_values(["metric_id", "day"])):
        quote, url = _evidence_json(r.evidence)
        value = "no value" if _missing(r.value) else _fmt(float(r.value))
        text = f"{r.metric_id} on {r.day}: {value} held back: {_reasons(r.reasons)}"
        out.append(Statement(str(r.metric_id), r.day.isoformat(), text, quote, url, "quarantined"))
    return out


def _restatements(inputs: DigestInputs, quotes: _Quotes, week_start: date, week_end: date) -> list[Statement]:
    """Versions of a (metric, day) that replaced an earlier published version during the week."""
    history = inputs.history
    if history is None or history.empty:
        return []
    out = []
    versions: dict[tuple[str, date], list[Any]] = {}
    for row in _rows(history.sort_values("valid_from")):
        versions.setdefault((str(row.metric_id), row.day), []).append(row)
    for (metric_id, day), rows in sorted(versions.items()):
        for old, new in itertools.pairwise(rows):
            changed_on = pd.Timestamp(new.valid_from).date()
            if not week_start <= changed_on <= week_end or old.value == new.value:
                continue
            reason = getattr(new, "reason", None)
            why = f": {reason}" if isinstance(reason, str) and reason else ""
            text = f"{metric_id} on {day} restated {_fmt(old.value)} → {_fmt(new.value)} on {changed_on}{why}"
            quote, url = quotes.of(metric_id, day)
            out.append(Statement(metric_id, day.isoformat(), text, quote, url, "restated"))
    return out


def _anomalies(inputs: DigestInputs, quotes: _Quotes) -> list[Statement]:
    out = []
    for a in inputs.anomalies:
        quote, url = quotes.of(a.metric_id, a.day)
        text = (
            f"{a.metric_id} on {a.day}: {_fmt(a.value)} against a 28-day median of {_fmt(a.median)} "
            f"(robust z {a.z:+.1f}), {a.label}: {a.reason}"
        )
        out.append(Statement(a.metric_id, a.day.isoformat(), text, quote, url, a.label))
    return out


def build_digest(inputs: DigestInputs, week_start: date, notes: Iterable[str] = ()) -> Digest:
    """The digest of the week starting `week_start` (a Monday) from the published tables' rows."""
    week_end = week_start + timedelta(days=6)
    quotes = _Quotes(inputs.evidence)
    moved = moves(inputs, quotes, week_start, week_end)
    tracked = _key_results(inputs, quotes, week_start, week_end)
    objectives = []
    for objective_id, (title, krs) in tracked.items():
        krs.sort(key=lambda pair: STATUS_ORDER.get(pair[0], 3))
        metrics = list(dict.fromkeys(s.metric_id for _, s in krs))
        own_moves = tuple(moved[m] for m in moved if m in metrics)
        worst = krs[0][0] if krs else None
        objectives.append(ObjectiveDigest(objective_id, title, worst, tuple(s for _, s in krs), own_moves))
    objectives.sort(key=lambda o: (STATUS_ORDER.get(o.status or "", 3), o.objective_id))
    tracked_metrics = {s.metric_id for o in objectives for s in o.key_results}
    return Digest(
        week_start=week_start,
        week_end=week_end,
        objectives=tuple(objectives),
        other_moves=tuple(s for m, s in moved.items() if m not in tracked_metrics),
        conflicts=tuple(_conflicts(inputs, quotes, week_start, week_end)),
        quarantined=tuple(_quarantined(inputs)),
        restatements=tuple(_restatements(inputs, quotes, week_start, week_end)),
        anomalies=tuple(_anomalies(inputs, quotes)),
        notes=tuple(notes),
    )
