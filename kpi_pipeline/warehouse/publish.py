"""Publishing to the `kpi` schema, the BI contract: catalog dimensions, daily facts, quarantine, OKR views.

Publishing a day is one transaction that replaces the day in fct_metric_daily, fct_metric_evidence and
metric_quarantine together, after taking the engine's per-day writer locks: a re-run leaves identical
rows (apart from published_at), a killed process leaves the previous state (the transaction never
commits), and two concurrent publishes of a day on PostgreSQL run one after the other.

A metric whose new value is `unread` (the backend gave no usable answer) keeps every row it had: its
fact, evidence and quarantine rows are neither replaced nor deleted. A day the gate holds back keeps its
facts and evidence; its quarantine is replaced by the held rows (kept for review), except on a day whose
extraction failed (too many unread) or that has no rows, where nothing at all is written. The same
transaction records the decision in extract.day_status (publish_status published or held, the reason,
the run, the time).

The series rule is applied here. An `as_reported` value is published on its partition day. A `by_period`
value whose period ended before its partition lands on the period's last day, in the same transaction, only
where that day has no reading of its own (one whose source was written on that day) nor a fresher landed one;
re-publishing the earlier day keeps a landed row unless the day now has its own reading for the metric
(docs/warehouse.md, "Which reading is a day's value").

A range is published `PUBLISH_CHUNK_DAYS` days at a time (`publish_range`): the gate and publish see one
chunk's rows of extract.metric_values, the suite is loaded once. What would refuse the whole range is found
before anything is written: duplicate (metric_id, day) rows anywhere in the range by one SQL query first, the
table's schema by the first chunk's gate (the table is the same for every chunk).

The views are portable SQL (a recursive-CTE time spine, window functions, date arithmetic) that runs
unchanged on DuckDB and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from kpi_pipeline.catalog import Catalog
from kpi_pipeline.quality.gate import GATED_TABLE, DayStats, GateResult, merged, run_gate
from kpi_pipeline.quality.gx_suite import LoadedSuite, load_suite, suite_path
from kpi_pipeline.review.apply import apply_overrides
from kpi_pipeline.review.overrides import Override
from kpi_pipeline.warehouse.engine import SchemaObject, Transaction, Warehouse
from kpi_pipeline.warehouse.history import record_day
from kpi_pipeline.warehouse.tables import (
    DAY_STATUS,
    DIM_METRIC,
    FCT_METRIC_DAILY,
    FCT_METRIC_EVIDENCE,
    FCT_METRIC_HISTORY,
    KPI_TABLES,
    METRIC_QUARANTINE,
    METRIC_VALUES,
    OKR_KEY_RESULTS,
    OKR_OBJECTIVES,
    Column,
    Table,
)

DAY_TABLES = (FCT_METRIC_DAILY, FCT_METRIC_EVIDENCE, METRIC_QUARANTINE)
CATALOG_TABLES = (DIM_METRIC, OKR_OBJECTIVES, OKR_KEY_RESULTS)


PUBLISH_CHUNK_DAYS = 31  # a chunk's metric_values are metrics x days rows: a month keeps the GX runs few


class PublishBlocked(RuntimeError):
    """The gate found a problem that makes the whole range untrustworthy; nothing was written."""

    def __init__(self, problems: Sequence[str], gate: GateResult | None = None, before: Sequence[date] = ()) -> None:
        done = f"{before[0].isoformat()}..{before[-1].isoformat()} was published before it, " if before else ""
        super().__init__(
            f"the quality gate failed, {done}nothing {'more ' if before else ''}was published: " + "; ".join(problems)
        )
        self.problems = tuple(problems)
        self.gate = gate  # the gate that found it; None when the SQL pre-pass did
        self.before = tuple(before)  # days published by earlier chunks (only a rule that could not run there)


@dataclass(frozen=True)
class DayOutcome:
    """What publish decided for one day (as written to extract.day_status)."""

    day: date
    status: str  # published | held
    reason: str | None  # why held, which metrics kept their previous version, where by_period values landed
    kept: tuple[str, ...] = ()  # unread metrics, and those whose override is stale: their previous rows stay
    restated: int = 0  # published values this publish replaced or withdrew (kpi.fct_metric_history)
    stale: tuple[Override, ...] = ()  # overrides not applied: the reading changed since the decision


@dataclass(frozen=True)
class Published:
    rows: dict[str, int]  # rows written per kpi table
    days: tuple[DayOutcome, ...]

    @property
    def restated(self) -> int:
        """Published values replaced by a new version or withdrawn, over every day."""
        return sum(d.restated for d in self.days)

    @property
    def stale(self) -> list[Override]:
        """Overrides left unapplied because their reading changed: `kpi-pipeline review` lists them."""
        return [o for d in self.days for o in d.stale]

    @property
    def held(self) -> list[DayOutcome]:
        return [d for d in self.days if d.status == "held"]

    @property
    def kept(self) -> list[DayOutcome]:
        """Published days on which some metrics kept their previous version (unread)."""
        return [d for d in self.days if d.status == "published" and d.kept]


@dataclass(frozen=True)
class View:
    name: str
    columns: tuple[Column, ...]
    sql: str
    doc: str

    @property
    def qualified(self) -> str:
        return f"kpi.{self.name}"


FILLED = View(
    "fct_metric_daily_filled",
    (
        Column("metric_id", "TEXT", doc="Catalog metric id"),
        Column("day", "DATE", doc="Every day from the metric's first published day to the last published day"),
        Column("value", "DOUBLE PRECISION", doc="Value published that day, else the last one before it"),
        Column("confidence", "DOUBLE PRECISION", doc="Confidence of that value"),
        Column("status", "TEXT", doc="Status of that value (ok or conflict)"),
        Column("value_day", "DATE", doc="Day the value was published for"),
        Column("is_carried", "BOOLEAN", doc="true when the value was carried forward from value_day"),
    ),
    """
WITH RECURSIVE spine(day) AS (
    SELECT MIN(day) FROM kpi.fct_metric_daily
    UNION ALL
    SELECT CAST(day + INTERVAL '1 day' AS DATE) FROM spine
    WHERE day < (SELECT MAX(day) FROM kpi.fct_metric_daily)
),
grid AS (
    SELECT firsts.metric_id, spine.day
    FROM (SELECT metric_id, MIN(day) AS first_day FROM kpi.fct_metric_daily GROUP BY metric_id) AS firsts
    JOIN spine ON spine.day >= firsts.first_day
),
marked AS (
    SELECT grid.metric_id, grid.day, f.day AS value_day, f.value, f.confidence, f.status,
           COUNT(f.day) OVER (PARTITION BY grid.metric_id ORDER BY grid.day) AS run_no
    FROM grid
    LEFT JOIN kpi.fct_metric_daily AS f ON f.metric_id = grid.metric_id AND f.day = grid.day
)
SELECT metric_id,
       day,
       MAX(value) OVER (PARTITION BY metric_id, run_no) AS value,
       MAX(confidence) OVER (PARTITION BY metric_id, run_no) AS confidence,
       MAX(status) OVER (PARTITION BY metric_id, run_no) AS status,
       MAX(value_day) OVER (PARTITION BY metric_id, run_no) AS value_day,
       value_day IS NULL AS is_carried
FROM marked
""",
    "A daily time spine per metric: the last published value carried forward, flagged as carried.",
)

OKR_PROGRESS = View(
    "okr_progress",
    (
        Column("objective_id", "TEXT", doc="Objective id"),
        Column("objective_title", "TEXT", doc="Objective title"),
        Column("quarter", "TEXT", doc="Quarter as 2026-Q3"),
        Column("key_result_no", "INTEGER", doc="Key result position within the objective"),
        Column("metric_id", "TEXT", doc="Metric the key result tracks"),
        Column("day", "DATE", doc="Day inside the quarter (up to the last published day)"),
        Column("value", "DOUBLE PRECISION", doc="The metric's value that day (carried forward when is_carried)"),
        Column("is_carried", "BOOLEAN", doc="The value was carried forward from an earlier day"),
        Column("baseline", "DOUBLE PRECISION", doc="Key result baseline (progress 0)"),
        Column("target", "DOUBLE PRECISION", doc="Key result target (progress 1)"),
        Column("progress", "DOUBLE PRECISION", doc="(value - baseline) / (target - baseline); not clamped"),
        Column("expected_progress", "DOUBLE PRECISION", doc="Share of the quarter's days elapsed by the end of day"),
        Column("status", "TEXT", doc="on_track, at_risk or off_track from progress / expected progress"),
    ),
    """
WITH measured AS (
    SELECT o.objective_id, o.title AS objective_title, o.quarter, k.key_result_no, k.metric_id, f.day,
           f.value, f.is_carried, k.baseline, k.target, o.at_risk_below, o.off_track_below,
           CAST(f.value - k.baseline AS DOUBLE PRECISION) / CAST(k.target - k.baseline AS DOUBLE PRECISION)
               AS progress,
           CAST(f.day - o.quarter_start + 1 AS DOUBLE PRECISION)
               / CAST(o.quarter_end - o.quarter_start + 1 AS DOUBLE PRECISION) AS expected_progress
    FROM kpi.okr_key_results AS k
    JOIN kpi.okr_objectives AS o ON o.objective_id = k.objective_id
    JOIN kpi.fct_metric_daily_filled AS f
      ON f.metric_id = k.metric_id AND f.day BETWEEN o.quarter_start AND o.quarter_end
)
SELECT objective_id, objective_title, quarter, key_result_no, metric_id, day, value, is_carried, baseline, target,
       progress, expected_progress,
       CASE WHEN progress >= expected_progress * at_risk_below THEN 'on_track'
            WHEN progress >= expected_progress * off_track_below THEN 'at_risk'
            ELSE 'off_track' END AS status
FROM measured
""",
    "Each key result's progress on every day of its quarter against linear pacing, with a status.",
)

VIEWS = (FILLED, OKR_PROGRESS)  # in dependency order


def view_object(view: View) -> SchemaObject:
    """CREATE OR REPLACE, never DROP: BI sessions reading a view keep it, and see the new one next query.
    PostgreSQL replaces a view only if its columns keep their names and types (new ones go at the end),
    which is the BI contract anyway."""
    return SchemaObject("kpi", view.name, (f"CREATE OR REPLACE VIEW {view.qualified} AS {view.sql}",))


def ensure_kpi_schema(wh: Warehouse) -> None:
    """Bring the kpi tables and views up to the code's definitions; a no-op (no DDL, no lock) when they are."""
    wh.ensure_schema([*(wh.table_object(t) for t in KPI_TABLES), *(view_object(v) for v in VIEWS)])


def read_metric_values(wh: Warehouse, days: Sequence[date]) -> pd.DataFrame:
    """The rows of extract.metric_values for `days`, with `day` as `datetime.date`."""
    if not days:
        return pd.DataFrame(columns=METRIC_VALUES.column_names)
    df = wh.query_df(
        f"SELECT * FROM {METRIC_VALUES.qualified} WHERE day BETWEEN ? AND ? ORDER BY day, metric_id",
        [min(days), max(days)],
    )
    if not df.empty:
        df["day"] = pd.to_datetime(df["day"]).dt.date
        df = df[df["day"].isin(set(days))].reset_index(drop=True)
    return df


def range_duplicates(wh: Warehouse, days: Sequence[date], suite: LoadedSuite) -> str | None:
    """The gate's `one_row_per_metric_day` rule over the whole range in one SQL query, worded as the gate
    words it: None when every (metric_id, day) of `days` has at most one row."""
    if not days:
        return None
    dupes = wh.query_df(
        f"SELECT metric_id, day, COUNT(*) AS n FROM {METRIC_VALUES.qualified} WHERE day BETWEEN ? AND ? "
        "GROUP BY metric_id, day HAVING COUNT(*) > 1 ORDER BY day, metric_id",
        [min(days), max(days)],
    )
    if not dupes.empty:
        dupes["day"] = pd.to_datetime(dupes["day"]).dt.date
        dupes = dupes[dupes["day"].isin(set(days))]
    if dupes.empty:
        return None
    reason = next((r.reason for r in suite.rules if r.rule == "one_row_per_metric_day"), "duplicate rows")
    keys = ", ".join(f"{m}@{d}" for m, d in zip(dupes["metric_id"][:3], dupes["day"][:3], strict=True))
    return f"one_row_per_metric_day: {reason} ({int(dupes['n'].sum())} rows, e.g. {keys})"


def gate_range(
    wh: Warehouse,
    catalog: Catalog,
    days: Sequence[date],
    chunk_days: int = PUBLISH_CHUNK_DAYS,
    suite: LoadedSuite | None = None,
) -> GateResult:
    """The gate over `days` of extract.metric_values, read and validated a chunk of days at a time as
    `publish_range` does (a (metric_id, day) duplicate is within one day, so within one chunk): only one
    chunk's rows are in memory, and `publish` of the result keeps none (see `quality.gate.merged`)."""
    suite = suite or load_suite(suite_path(GATED_TABLE))
    ordered = sorted(days)
    chunks = (ordered[start : start + chunk_days] for start in range(0, len(ordered), chunk_days))
    return merged(run_gate(read_metric_values(wh, chunk), catalog, chunk, suite=suite) for chunk in chunks)


@dataclass(frozen=True)
class RangePublished:
    """What publishing a range did, chunk by chunk: the outcomes, and the gate's figures per day."""

    published: Published
    gate_days: tuple[DayStats, ...]


def publish_range(
    wh: Warehouse,
    catalog: Catalog,
    days: Sequence[date],
    run_id: str,
    published_at: datetime,
    *,
    overrides: Sequence[Override] = (),
    trigger: str = "rerun",
    chunk_days: int = PUBLISH_CHUNK_DAYS,
    suite: LoadedSuite | None = None,
) -> RangePublished:
    """Gate and publish `days` of extract.metric_values a chunk at a time (see the module docstring), as one
    `run_gate` + `publish_gate` over the range would. Raises PublishBlocked, nothing written, on a problem that
    makes the range untrustworthy (a rule that could not run on a later chunk's rows says which days were
    published before it)."""
    suite = suite or load_suite(suite_path(GATED_TABLE))
    duplicates = range_duplicates(wh, days, suite)
    if duplicates:
        raise PublishBlocked([duplicates])
    by_period = by_period_metrics(catalog)
    totals = dict.fromkeys((t.qualified for t in DAY_TABLES), 0)
    outcomes: list[DayOutcome] = []
    gate_days: list[DayStats] = []
    ordered = sorted(days)
    for start in range(0, len(ordered), chunk_days):
        chunk = ordered[start : start + chunk_days]
        gate = run_gate(read_metric_values(wh, chunk), catalog, chunk, suite=suite)
        if gate.blocked:
            raise PublishBlocked(gate.structural, gate, [o.day for o in outcomes])
        part = publish_gate(wh, gate, run_id, published_at, by_period, overrides=overrides, trigger=trigger)
        outcomes.extend(part.days)
        gate_days.extend(gate.days)
        for name, n in part.rows.items():
            totals[name] += n
    return RangePublished(Published(totals, tuple(outcomes)), tuple(gate_days))


def catalog_frames(catalog: Catalog) -> dict[Table, pd.DataFrame]:
    """The catalog as rows of dim_metric, okr_objectives and okr_key_results."""
    metrics = pd.DataFrame(
        [
            {
                "metric_id": m.id,
                "description": m.description,
                "unit": m.unit,
                "direction": m.direction,
                "min_value": m.validation.min,
                "max_value": m.validation.max,
                "min_confidence": m.min_confidence,
                "direction_source": m.direction_source,
                "kind": m.kind,
                "flow_window": m.window,
                "additivity": m.additivity,
                "series_rule": m.series_rule,
            }
            for m in catalog.metrics
        ]
    )
    objectives = pd.DataFrame(
        [
            {
                "objective_id": o.id,
                "title": o.title,
                "quarter": o.quarter,
                "quarter_start": o.start,
                "quarter_end": o.end,
                "at_risk_below": catalog.okr_status.at_risk,
                "off_track_below": catalog.okr_status.off_track,
            }
            for o in catalog.objectives
        ]
    )
    key_results = pd.DataFrame(
        [
            {
                "objective_id": o.id,
                "key_result_no": n,
                "metric_id": kr.metric,
                "baseline": kr.baseline,
                "target": kr.target,
            }
            for o in catalog.objectives
            for n, kr in enumerate(o.key_results, start=1)
        ]
    )
    return {DIM_METRIC: metrics, OKR_OBJECTIVES: objectives, OKR_KEY_RESULTS: key_results}


def publish_catalog(wh: Warehouse, catalog: Catalog) -> dict[str, int]:
    """Replace dim_metric, okr_objectives and okr_key_results with the catalog, in one transaction."""
    frames = catalog_frames(catalog)
    with wh.transaction() as tx:
        wh.lock_ddl(tx)
        for table in CATALOG_TABLES:
            tx.execute(f"DELETE FROM {table.qualified}")
        return {table.qualified: tx.insert_df(table, frames[table]) for table in CATALOG_TABLES}


def _evidence_items(evidence: Any) -> list[dict[str, Any]]:
    if not isinstance(evidence, str) or not evidence.strip():
        return []
    items = json.loads(evidence)
    return [i for i in items if isinstance(i, dict) and str(i.get("quote") or "").strip()]


def bi_url(value: Any) -> str | None:
    """An http(s) URL with a host, else None. BI tools render `fct_metric_evidence.url` as a link, so a
    `javascript:` or `data:` URL arriving in evidence would run in the browser of whoever clicks it."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or any(ch.isspace() or not ch.isprintable() for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in {"http", "https"} and parts.hostname else None


def _run_id(row_run_id: Any, publishing_run_id: str) -> str:
    return row_run_id if isinstance(row_run_id, str) and row_run_id else publishing_run_id


def day_frames(gate: GateResult, day: date, run_id: str, published_at: datetime) -> dict[Table, pd.DataFrame]:
    """What one day looks like in fct_metric_daily, fct_metric_evidence and metric_quarantine."""
    passed, held = gate.publish[gate.publish["day"] == day], gate.quarantine[gate.quarantine["day"] == day]
    return routed_frames(passed, held, run_id, published_at)


def routed_frames(
    passed: pd.DataFrame, held: pd.DataFrame, run_id: str, published_at: datetime
) -> dict[Table, pd.DataFrame]:
    """The kpi day tables' rows for a day's rows routed to publish (`passed`) and to quarantine (`held`)."""
    facts = pd.DataFrame(
        {
            "metric_id": passed["metric_id"],
            "day": passed["day"],
            "value": passed["value"],
            "confidence": passed["confidence"],
            # rows extracted before calibration existed hold no raw confidence: theirs was the raw one
            "confidence_raw": passed.get("confidence_raw", passed["confidence"]).fillna(passed["confidence"]),
            "status": passed["status"],
            "n_sources": passed["n_sources"],
            "model": passed["model"],
            "prompt_version": passed["prompt_version"],
            "run_id": [_run_id(r, run_id) for r in passed["run_id"]],
            "published_at": published_at,
            "period_start": _dates(_column(passed, "period_start")),
            "period_end": _dates(_column(passed, "period_end")),
            "reported_at": pd.to_datetime(_column(passed, "reported_at"), utc=True),
        }
    )
    evidence = pd.DataFrame(
        [
            {
                "metric_id": row.metric_id,
                "day": row.day,
                "evidence_no": n,
                "source_type": item.get("source_type"),
                "source_id": item.get("source_id"),
                "url": bi_url(item.get("url")),
                "quote": item["quote"],
            }
            for row in passed.itertuples(index=False)
            for n, item in enumerate(_evidence_items(row.evidence), start=1)
        ],
        columns=FCT_METRIC_EVIDENCE.column_names,
    )
    quarantine = pd.DataFrame(
        {
            "metric_id": held["metric_id"],
            "day": held["day"],
            "value": held["value"],
            "confidence": held["confidence"],
            "reasons": [json.dumps(r) for r in held["reasons"]],
            "evidence": held["evidence"],
            "run_id": [_run_id(r, run_id) for r in held["run_id"]],
        }
    )
    return {FCT_METRIC_DAILY: facts, FCT_METRIC_EVIDENCE: evidence, METRIC_QUARANTINE: quarantine}


def _column(rows: pd.DataFrame, name: str) -> pd.Series:
    """A column of the gate's rows; all missing for rows extracted before it existed."""
    return rows[name] if name in rows.columns else pd.Series([None] * len(rows), index=rows.index, dtype=object)


def _dates(values: pd.Series) -> list[date | None]:
    return [None if v is None or pd.isna(v) else pd.Timestamp(v).date() for v in values]


def by_period_metrics(catalog: Catalog) -> frozenset[str]:
    """The metrics whose readings land on the day their period ends (series_rule: by_period)."""
    return frozenset(m.id for m in catalog.metrics if m.series_rule == "by_period")


def _reported_day(value: Any) -> date | None:
    if value is None or pd.isna(value):
        return None
    stamp = pd.Timestamp(value)
    return (stamp.tz_convert("UTC") if stamp.tzinfo else stamp).date()


def landing_day(metric_id: str, partition: date, period_end: Any, by_period: Collection[str]) -> date:
    """The day a reading of `partition` is published for: its partition, except for a by_period metric whose
    period ended before it, which lands on the period's last day."""
    end = None if period_end is None or pd.isna(period_end) else pd.Timestamp(period_end).date()
    return end if metric_id in by_period and end is not None and end < partition else partition


def _delete_day(tx: Transaction, table: Table, day: date, keep: Sequence[str]) -> None:
    """Delete the day's rows of `table`, except those of the metrics in `keep`."""
    sql = f"DELETE FROM {table.qualified} WHERE {table.partition_column} = ?"
    params: list[Any] = [day]
    if keep:
        sql += f" AND metric_id NOT IN ({', '.join('?' for _ in keep)})"
        params += list(keep)
    tx.execute(sql, params)


def _outcome(gate: GateResult, day: date, stale: Sequence[Override] = ()) -> DayOutcome:
    stats = next(d for d in gate.days if d.day == day)
    if stats.held:
        return DayOutcome(day, "held", stats.held, stats.unread_metrics)
    unread = stats.unread_metrics
    reasons = [f"kept the previous version of {', '.join(unread)}: unread (no usable answer from the backend)"]
    reasons = reasons if unread else []
    if stale:
        names = ", ".join(sorted(o.metric for o in stale))
        reasons.append(
            f"kept the previous version of {names}: the reading changed since its override was decided; "
            "run kpi-pipeline review"
        )
    kept = tuple(sorted({*unread, *(o.metric for o in stale)}))
    return DayOutcome(day, "published", "; ".join(reasons) or None, kept, stale=tuple(stale))


def publish_day(
    wh: Warehouse,
    gate: GateResult,
    day: date,
    run_id: str,
    published_at: datetime,
    by_period: Collection[str] = (),
    overrides: Sequence[Override] = (),
    trigger: str = "rerun",
) -> tuple[dict[str, int], DayOutcome]:
    """Write one day's decision in one transaction: replace the daily kpi tables with the gate's rows after
    the day's overrides (a held day: only its quarantine), keep unread metrics' rows and those of stale
    overrides, land `by_period` metrics' readings of an earlier period on the day it ended, add the changed
    values' versions to fct_metric_history, record the decision in extract.day_status. Returns the rows
    written per table and the day's outcome."""
    stats = next(d for d in gate.days if d.day == day)
    of_day = [o for o in overrides if o.day == day]
    passed, held = gate.publish[gate.publish["day"] == day], gate.quarantine[gate.quarantine["day"] == day]
    applied = apply_overrides(passed, held, read_metric_values(wh, [day]), of_day) if of_day else None
    if applied is not None and not stats.held:
        passed, held = applied.publish, applied.quarantine
    outcome = _outcome(gate, day, applied.stale if applied is not None and not stats.held else ())
    frames = routed_frames(passed, held, run_id, published_at)
    if outcome.status == "published":
        replaced: tuple[Table, ...] = DAY_TABLES
    elif stats.failed or not stats.rows:
        replaced = ()  # nothing read well enough to review: the day stays exactly as it was
    else:
        replaced = (METRIC_QUARANTINE,)
    groups = _by_landing_day(frames[FCT_METRIC_DAILY], day, by_period)
    own = _rows_of(frames, groups.pop(day, []))
    earlier = sorted(groups) if FCT_METRIC_DAILY in replaced else []
    notes: list[str] = []
    with wh.transaction() as tx:
        for table in (*DAY_TABLES, FCT_METRIC_HISTORY):
            wh.lock_partition(tx, table, [day, *earlier])
        # a by_period value that landed here from a later day's sources stays unless this day has its own
        protected = sorted(_landed_metrics(tx, day) - set(own[FCT_METRIC_DAILY]["metric_id"]))
        override_notes = applied.notes if applied is not None else {}

        def record(on: date, facts: pd.DataFrame, keep: Sequence[str]) -> int:
            return record_day(
                tx,
                on,
                facts,
                keep,
                run_id=run_id,
                published_at=published_at,
                trigger=trigger,
                notes=override_notes if on == day else {},
            )

        if outcome.status == "published":
            outcome = replace(outcome, restated=record(day, own[FCT_METRIC_DAILY], [*outcome.kept, *protected]))
        written: dict[str, int] = {}
        for table in replaced:
            keep = [*outcome.kept, *(protected if table is not METRIC_QUARANTINE else ())]
            _delete_day(tx, table, day, keep)
            rows = frames[table] if table is METRIC_QUARANTINE else own[table]
            written[table.qualified] = tx.insert_df(table, rows)
        for target in earlier:
            landed, skipped, restated = _land(tx, _rows_of(frames, groups[target]), target, record)
            outcome = replace(outcome, restated=outcome.restated + restated)
            for table in (FCT_METRIC_DAILY, FCT_METRIC_EVIDENCE):
                written[table.qualified] = written.get(table.qualified, 0) + landed[table]
            notes += [
                f"{m}: " + (f"not published for {target.isoformat()}, {skipped[m]}" if m in skipped else
                            f"published for {target.isoformat()} (by_period)")
                for m in groups[target]
            ]  # fmt: skip
        reason = "; ".join([*([outcome.reason] if outcome.reason else []), *notes]) or None
        tx.execute(
            f"UPDATE {DAY_STATUS.qualified} SET publish_status = ?, publish_reason = ?, publish_run_id = ?, "
            "published_at = ? WHERE day = ?",
            [outcome.status, reason, run_id, published_at, day],
        )
    return {table.qualified: written.get(table.qualified, 0) for table in DAY_TABLES}, replace(outcome, reason=reason)


def _by_landing_day(facts: pd.DataFrame, day: date, by_period: Collection[str]) -> dict[date, list[str]]:
    """The metrics of the day's facts by the day each is published for (the series rule)."""
    groups: dict[date, list[str]] = {}
    for metric, end in zip(facts["metric_id"], facts["period_end"], strict=True):
        groups.setdefault(landing_day(str(metric), day, end, by_period), []).append(str(metric))
    return groups


def _rows_of(frames: dict[Table, pd.DataFrame], metric_ids: Collection[str]) -> dict[Table, pd.DataFrame]:
    """The fact and evidence rows of `metric_ids` (quarantine rows stay with their partition)."""
    wanted = set(metric_ids)
    return {t: frames[t][frames[t]["metric_id"].isin(wanted)] for t in (FCT_METRIC_DAILY, FCT_METRIC_EVIDENCE)}


def _reported_days(tx: Transaction, day: date) -> dict[str, date | None]:
    """metric -> the day the source of its fact on `day` was written (None on rows published before)."""
    rows = tx.query_df(f"SELECT metric_id, reported_at FROM {FCT_METRIC_DAILY.qualified} WHERE day = ?", [day])
    return {str(m): _reported_day(r) for m, r in zip(rows["metric_id"], rows["reported_at"], strict=True)}


def _landed_metrics(tx: Transaction, day: date) -> set[str]:
    """The metrics whose fact on `day` landed there from a later day's sources (by_period)."""
    return {m for m, reported in _reported_days(tx, day).items() if reported is not None and reported > day}


def _land(
    tx: Transaction,
    rows: dict[Table, pd.DataFrame],
    target: date,
    record: Callable[[date, pd.DataFrame, Sequence[str]], int],
) -> tuple[dict[Table, int], dict[str, str], int]:
    """Publish by_period facts (and their evidence) on `target`, the day their period ended, where `target` has
    no reading of its own (reported on that day) and no landed one reported later than these: the day's own
    values are never replaced, and a rerun replaces its own landed rows with identical ones. `record` adds the
    landed values' versions to the history, every other metric of `target` keeping its own. Returns the rows
    written, for each metric not published why, and how many published values were restated."""
    current = _reported_days(tx, target)
    facts = rows[FCT_METRIC_DAILY]
    skipped: dict[str, str] = {}
    for metric, reported in zip(facts["metric_id"], facts["reported_at"], strict=True):
        if metric not in current:
            continue
        before, new = current[metric], _reported_day(reported)
        if before is None or before <= target:
            skipped[str(metric)] = "which has its own reading"
        elif new is not None and new < before:
            skipped[str(metric)] = f"which has a fresher one reported on {before.isoformat()}"
    chosen = [str(m) for m in facts["metric_id"] if m not in skipped]
    restated = record(target, facts[facts["metric_id"].isin(set(chosen))], sorted(set(current) - set(chosen)))
    if chosen:
        marks = ", ".join("?" for _ in chosen)
        for table in (FCT_METRIC_DAILY, FCT_METRIC_EVIDENCE):
            tx.execute(f"DELETE FROM {table.qualified} WHERE day = ? AND metric_id IN ({marks})", [target, *chosen])
    written = {}
    for table in (FCT_METRIC_DAILY, FCT_METRIC_EVIDENCE):
        frame = rows[table][rows[table]["metric_id"].isin(set(chosen))].copy()
        frame["day"] = target
        written[table] = tx.insert_df(table, frame)
    return written, skipped, restated


def publish_gate(
    wh: Warehouse,
    gate: GateResult,
    run_id: str,
    published_at: datetime,
    by_period: Collection[str] = (),
    *,
    overrides: Sequence[Override] = (),
    trigger: str = "rerun",
) -> Published:
    """Publish every day the gate covered, each in its own transaction: good days publish (after their
    overrides), held days keep their facts. `by_period` names the metrics whose series rule is by_period
    (`by_period_metrics(catalog)`); `trigger` (rerun or backfill) is the history's reason for a changed value
    no version, model, catalog or override explains. Refuses (PublishBlocked, nothing written) when a problem
    makes the whole range untrustworthy."""
    if gate.blocked:
        raise PublishBlocked(gate.structural, gate)
    totals = dict.fromkeys((t.qualified for t in DAY_TABLES), 0)
    outcomes = []
    for stats in gate.days:
        written, outcome = publish_day(wh, gate, stats.day, run_id, published_at, by_period, overrides, trigger)
        outcomes.append(outcome)
        for name, n in written.items():
            totals[name] += n
    return Published(totals, tuple(outcomes))
