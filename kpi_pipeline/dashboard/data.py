"""What the dashboard shows, read from the published tables and nothing else.

Every number comes from `kpi.*` (values, confidences, OKR progress and status from the `okr_progress`
view) or from `extract.*` (the model's reasoning, the conflicting readings, LLM tokens and cost, summed
by SQL per day). Nothing here derives a KPI: the dashboard is a view of the BI contract, so what a BI tool
shows and what the dashboard shows can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd

from kpi_pipeline.catalog import quarter_bounds
from kpi_pipeline.dashboard.digest import latest_digest
from kpi_pipeline.insights.digest import Digest
from kpi_pipeline.warehouse import Warehouse

HISTORY_DAYS = 366  # up to a year of published days before the quarter's end is loaded, so charts can zoom out


class DashboardDataError(ValueError):
    """The published tables cannot make a dashboard (nothing published, unknown quarter)."""


@dataclass(frozen=True)
class DashboardData:
    quarter: str
    quarter_start: date
    quarter_end: date
    first_day: date  # earliest day loaded: the quarter's start or the earliest published day of the year before
    as_of: date | None  # latest published day inside the quarter
    metrics: pd.DataFrame  # kpi.dim_metric
    objectives: pd.DataFrame  # kpi.okr_objectives of the quarter
    key_results: pd.DataFrame  # kpi.okr_key_results with their latest kpi.okr_progress row (NULLs when none)
    facts: pd.DataFrame  # kpi.fct_metric_daily
    evidence: pd.DataFrame  # kpi.fct_metric_evidence
    quarantine: pd.DataFrame  # kpi.metric_quarantine
    explanations: pd.DataFrame  # extract.metric_values: reasoning and conflict of published and held-back days
    costs: pd.DataFrame  # extract.llm_calls summed per day
    quarter_costs: pd.DataFrame  # extract.llm_calls summed over the quarter (one row)
    # kpi.fct_metric_history: current versions that replaced an earlier one, with the earlier value (`was`)
    restatements: pd.DataFrame = field(default_factory=pd.DataFrame)
    digest: Digest | None = None  # kpi.weekly_digest: the latest stored week of the quarter


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def _day(value: Any) -> date | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date()


def _days(df: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Date columns as `datetime.date` whatever the engine returned (date, datetime64, Timestamp)."""
    for column in columns:
        if column in df.columns:
            df[column] = [_day(v) for v in df[column]]
    return df


def choose_quarter(wh: Warehouse) -> str:
    """The quarter of the latest published day when an objective covers it, else the latest objective's quarter."""
    latest = _day(wh.scalar("SELECT MAX(day) FROM kpi.fct_metric_daily"))
    quarters = wh.query_df("SELECT DISTINCT quarter FROM kpi.okr_objectives")["quarter"].tolist()
    if latest is not None and (quarter_of(latest) in quarters or not quarters):
        return quarter_of(latest)
    if quarters:
        return str(max(quarters, key=quarter_bounds))
    raise DashboardDataError(
        "kpi.fct_metric_daily and kpi.okr_objectives are empty: publish the catalog and at least one day "
        "(materialize the publish assets, e.g. `make demo`) before rendering the dashboard"
    )


def _key_results(wh: Warehouse, quarter: str) -> pd.DataFrame:
    """Each key result of the quarter with the okr_progress row of its latest day (left join: none yet -> NULLs)."""
    return wh.query_df(
        """
        WITH latest AS (
            SELECT objective_id, key_result_no, MAX(day) AS day
            FROM kpi.okr_progress WHERE quarter = ? GROUP BY objective_id, key_result_no
        )
        SELECT k.objective_id, k.key_result_no, k.metric_id, k.baseline, k.target,
               p.day, p.value, p.is_carried, p.progress, p.expected_progress, p.status
        FROM kpi.okr_key_results AS k
        JOIN kpi.okr_objectives AS o ON o.objective_id = k.objective_id AND o.quarter = ?
        LEFT JOIN latest AS l ON l.objective_id = k.objective_id AND l.key_result_no = k.key_result_no
        LEFT JOIN kpi.okr_progress AS p
          ON p.objective_id = l.objective_id AND p.key_result_no = l.key_result_no AND p.day = l.day
        ORDER BY k.objective_id, k.key_result_no
        """,
        [quarter, quarter],
    )


def _explanations(wh: Warehouse, first: date, last: date) -> pd.DataFrame:
    """Reasoning and conflicts, only for the (metric, day) pairs that were published or held back."""
    return wh.query_df(
        """
        SELECT v.metric_id, v.day, v.reasoning, v.conflict
        FROM extract.metric_values AS v
        WHERE v.day BETWEEN ? AND ?
          AND (EXISTS (SELECT 1 FROM kpi.fct_metric_daily AS f WHERE f.metric_id = v.metric_id AND f.day = v.day)
               OR EXISTS (SELECT 1 FROM kpi.metric_quarantine AS q
                          WHERE q.metric_id = v.metric_id AND q.day = v.day))
        ORDER BY v.metric_id, v.day
        """,
        [first, last],
    )


def _restatements(wh: Warehouse, first: date, last: date) -> pd.DataFrame:
    """Each current version in [first, last] that replaced an earlier one: when, why, and the earlier value
    (NULL when it had been withdrawn). Empty on a warehouse made before the history table existed."""
    present = wh.scalar(
        "SELECT COUNT(*) FROM information_schema.tables "
        "WHERE table_schema = 'kpi' AND table_name = 'fct_metric_history'"
    )
    if not present:
        return pd.DataFrame(columns=["metric_id", "day", "restated_at", "reason", "note", "was"])
    return wh.query_df(
        """
        SELECT cur.metric_id, cur.day, cur.valid_from AS restated_at, cur.reason, cur.note, prev.value AS was
        FROM kpi.fct_metric_history AS cur
        JOIN kpi.fct_metric_history AS prev
          ON prev.metric_id = cur.metric_id AND prev.day = cur.day AND prev.version = cur.version - 1
        WHERE cur.valid_to IS NULL AND cur.value IS NOT NULL AND cur.day BETWEEN ? AND ?
        ORDER BY cur.metric_id, cur.day
        """,
        [first, last],
    )


def _costs(wh: Warehouse, first: date, last: date, per_day: bool = True) -> pd.DataFrame:
    """Calls, tokens by kind and cost in [first, last]: one row per day, or one row for the whole span.

    The casts keep PostgreSQL's SUM(BIGINT) from arriving as Decimal.
    """
    day, group = ("day,", "GROUP BY day ORDER BY day") if per_day else ("", "")
    return wh.query_df(
        f"""
        SELECT {day}
               COUNT(*) AS calls,
               CAST(SUM(CASE WHEN response_cache_hit THEN 1 ELSE 0 END) AS BIGINT) AS response_cache_hits,
               CAST(SUM(input_tokens) AS BIGINT) AS input_tokens,
               CAST(SUM(cache_creation_input_tokens) AS BIGINT) AS cache_creation_input_tokens,
               CAST(SUM(cache_read_input_tokens) AS BIGINT) AS cache_read_input_tokens,
               CAST(SUM(output_tokens) AS BIGINT) AS output_tokens,
               CAST(SUM(cost_usd) AS DOUBLE PRECISION) AS cost_usd
        FROM extract.llm_calls
        WHERE day BETWEEN ? AND ?
        {group}
        """,
        [first, last],
    )


def load_dashboard_data(wh: Warehouse, quarter: str | None = None, history_days: int = HISTORY_DAYS) -> DashboardData:
    """Read everything the dashboard shows for `quarter` (default: see `choose_quarter`)."""
    quarter = quarter or choose_quarter(wh)
    try:
        start, end = quarter_bounds(quarter)
    except ValueError as exc:
        raise DashboardDataError(f"dashboard quarter {quarter!r}: {exc}") from None
    earliest = _day(
        wh.scalar(
            "SELECT MIN(day) FROM kpi.fct_metric_daily WHERE day BETWEEN ? AND ?",
            [end - timedelta(days=history_days - 1), end],
        )
    )
    first = min(start, earliest) if earliest else start
    window = [first, end]
    facts = _days(
        wh.query_df(
            "SELECT metric_id, day, value, confidence, status, n_sources, model, prompt_version, run_id, published_at "
            "FROM kpi.fct_metric_daily WHERE day BETWEEN ? AND ? ORDER BY metric_id, day",
            window,
        ),
        "day",
    )
    as_of = _day(wh.scalar("SELECT MAX(day) FROM kpi.fct_metric_daily WHERE day BETWEEN ? AND ?", [start, end]))
    return DashboardData(
        quarter=quarter,
        quarter_start=start,
        quarter_end=end,
        first_day=first,
        as_of=as_of,
        metrics=wh.query_df("SELECT * FROM kpi.dim_metric ORDER BY metric_id"),
        objectives=_days(
            wh.query_df("SELECT * FROM kpi.okr_objectives WHERE quarter = ? ORDER BY objective_id", [quarter]),
            "quarter_start",
            "quarter_end",
        ),
        key_results=_days(_key_results(wh, quarter), "day"),
        facts=facts,
        evidence=_days(
            wh.query_df(
                "SELECT metric_id, day, evidence_no, source_type, source_id, url, quote FROM kpi.fct_metric_evidence "
                "WHERE day BETWEEN ? AND ? ORDER BY metric_id, day, evidence_no",
                window,
            ),
            "day",
        ),
        quarantine=_days(
            wh.query_df(
                "SELECT metric_id, day, value, confidence, reasons, evidence, run_id FROM kpi.metric_quarantine "
                "WHERE day BETWEEN ? AND ? ORDER BY metric_id, day",
                window,
            ),
            "day",
        ),
        explanations=_days(_explanations(wh, first, end), "day"),
        costs=_days(_costs(wh, first, end), "day"),
        quarter_costs=_costs(wh, start, end, per_day=False),
        restatements=_days(_restatements(wh, first, end), "day"),
        digest=latest_digest(wh, start, end),
    )
