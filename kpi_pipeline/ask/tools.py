"""The two tools Claude gets over the warehouse: checked read-only SQL on `kpi`, and the evidence of a value."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from kpi_pipeline.ask.reader import KpiReader
from kpi_pipeline.ask.sql_guard import SqlRefused
from kpi_pipeline.query import QueryError

SQL_TOOL = "run_sql"
EVIDENCE_TOOL = "get_evidence"
_METRIC_ID = re.compile(r"^[a-z][a-z0-9_]*$")

TOOLS: list[dict[str, Any]] = [
    {
        "name": SQL_TOOL,
        "description": (
            "Run one read-only SELECT (or WITH ... SELECT) over the published kpi schema: kpi.dim_metric, "
            "kpi.fct_metric_daily (metric_id, day, value, confidence, status, n_sources), kpi.fct_metric_evidence "
            "(metric_id, day, evidence_no, source_type, source_id, url, quote), kpi.metric_quarantine (metric_id, "
            "day, value, confidence, reasons), kpi.okr_objectives, kpi.okr_key_results, kpi.fct_metric_daily_filled, "
            "kpi.okr_progress (objective_id, key_result_no, metric_id, day, value, progress, expected_progress, "
            "status). Qualify every table with kpi. At most 200 rows come back; a long query is stopped."
        ),
        "input_schema": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "one SELECT statement"}},
            "required": ["query"],
        },
    },
    {
        "name": EVIDENCE_TOOL,
        "description": (
            "The published value of one metric on one day and the verbatim quotes behind it, with their source "
            "links. Cite these quotes for every number you give."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "metric_id": {"type": "string", "description": "a metric id from kpi.dim_metric"},
                "day": {"type": "string", "description": "the day, YYYY-MM-DD"},
            },
            "required": ["metric_id", "day"],
        },
    },
]


def run_tool(reader: KpiReader, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
    """(JSON text for the tool_result, is_error): a refusal or error is told to the model, never raised."""
    try:
        if name == SQL_TOOL:
            result = _sql(reader, str(arguments.get("query", "")))
        elif name == EVIDENCE_TOOL:
            result = _evidence(reader, str(arguments.get("metric_id", "")), str(arguments.get("day", "")))
        else:
            return json.dumps({"error": f"no tool named {name!r}"}), True
    except (SqlRefused, QueryError) as exc:
        return json.dumps({"error": str(exc)}), True
    return json.dumps(result, default=_json_value), False


def _sql(reader: KpiReader, query: str) -> dict[str, Any]:
    rows = reader.select(query)
    return {"columns": rows.columns, "rows": [list(r) for r in rows.rows], "truncated": rows.truncated}


def _evidence(reader: KpiReader, metric_id: str, day: str) -> dict[str, Any]:
    if not _METRIC_ID.match(metric_id):
        raise QueryError(f"metric_id {metric_id!r} is not a metric id (lowercase letters, digits and _)")
    try:
        date.fromisoformat(day)
    except ValueError:
        raise QueryError(f"day {day!r} is not a date: write it as YYYY-MM-DD") from None
    where = f"metric_id = '{metric_id}' AND day = DATE '{day}'"  # both checked above: no quoting needed
    fact = reader.select(f"SELECT value, confidence, status, n_sources FROM kpi.fct_metric_daily WHERE {where}")
    if not fact.rows:
        held = reader.select(f"SELECT reasons FROM kpi.metric_quarantine WHERE {where}")
        reasons = json.loads(str(held.rows[0][0])) if held.rows else []
        return {"metric_id": metric_id, "day": day, "published": False, "held_back_reasons": reasons}
    quotes = reader.select(
        f"SELECT quote, source_type, source_id, url FROM kpi.fct_metric_evidence WHERE {where} ORDER BY evidence_no"
    )
    return {"metric_id": metric_id, "day": day, "published": True, **fact.records()[0], "quotes": quotes.records()}


def _json_value(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return str(value)
