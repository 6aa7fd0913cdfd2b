"""The quarter's OKR status as a markdown table, for the asset's Dagster metadata.

A Dagster UI user sees where every key result stands without opening the HTML file. Numbers are the
`okr_progress` view's, only formatted.
"""

from __future__ import annotations

import math
from typing import Any

from kpi_pipeline.dashboard.data import DashboardData

STATUS_MARK = {"on_track": "🟢 on track", "at_risk": "🟠 at risk", "off_track": "🔴 off track"}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _number(value: Any) -> str:
    """Plain notation (no 1.1e+06): thousands separated, at most 4 decimals, trailing zeros dropped."""
    if _missing(value):
        return "–"
    number = float(value)
    if abs(number) >= 1000:
        return f"{number:,.0f}"
    return f"{number:.4f}".rstrip("0").rstrip(".")


def _share(value: Any) -> str:
    return "–" if _missing(value) else f"{float(value):.0%}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def okr_markdown(data: DashboardData) -> str:
    """One row per key result of the quarter: value, baseline, target, progress, expected progress, status."""
    title = dict(zip(data.objectives["objective_id"], data.objectives["title"], strict=True))
    as_of = data.as_of.isoformat() if data.as_of else "nothing published yet"
    lines = [
        f"**{data.quarter}** as of {as_of}",
        "",
        "| Objective | Key result | Value | Baseline | Target | Progress | Expected | Status |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for kr in data.key_results.itertuples(index=False):
        status = "⚪ no data" if _missing(kr.status) else STATUS_MARK.get(str(kr.status), str(kr.status))
        cells = [
            _cell(str(title.get(kr.objective_id, kr.objective_id))),
            f"`{kr.metric_id}`",
            _number(kr.value),
            _number(kr.baseline),
            _number(kr.target),
            _share(kr.progress),
            _share(kr.expected_progress),
            status,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if data.key_results.empty:
        lines.append("| (no objectives for this quarter) | | | | | | | |")
    return "\n".join(lines)
