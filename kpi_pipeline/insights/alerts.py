"""Alerts: what changed since the last alert, once per change.

What is watched is a set of observations, each a key with a state: a key result's status (`kr:OBJECTIVE:N` ->
on_track / at_risk / off_track) and a metric's latest conflict day (`conflict:METRIC` -> ISO day). The last
state alerted on (or seen, for states that do not alert) is kept, e.g. in a sensor cursor; an observation alerts
when its state differs from the kept one and the catalog's `alerts.notify` names it. A key result that recovers is
recorded without a message, so turning off track again later alerts again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from kpi_pipeline.catalog import Alerts
from kpi_pipeline.warehouse.publish import bi_url

CONFLICT_LOOKBACK_DAYS = 7  # conflicts older than this before the latest published day are not news
STATUS_WORDS = {"off_track": "off track", "at_risk": "at risk", "on_track": "on track"}


@dataclass(frozen=True)
class Observation:
    key: str
    state: str
    alerting: bool  # a change to this state is worth a message
    text: str
    quote: str | None = None
    url: str | None = None


def _rows(df: pd.DataFrame) -> Iterator[Any]:
    return df.itertuples(index=False)


def conflict_gap(value: float, conflict: Any) -> float:
    """How far the disagreeing readings are apart, as a share of the published value (inf when it is 0)."""
    try:
        sides = json.loads(conflict) if isinstance(conflict, str) else []
    except json.JSONDecodeError:
        sides = []
    values = [float(s["value"]) for s in sides if isinstance(s, dict) and isinstance(s.get("value"), int | float)]
    values.append(value)
    spread = max(values) - min(values)
    return spread / abs(value) if value else (float("inf") if spread else 0.0)


def observe(
    key_results: pd.DataFrame, conflicts: pd.DataFrame, evidence: pd.DataFrame, rules: Alerts
) -> list[Observation]:
    """Observations from the latest okr_progress row of each key result (with objective_title) and the conflict
    days of fct_metric_daily joined with extract.metric_values' conflict column (days as `datetime.date`)."""
    quotes: dict[tuple[str, date], tuple[str, str | None]] = {}
    for e in _rows(evidence):
        quotes.setdefault((str(e.metric_id), e.day), (str(e.quote), bi_url(e.url)))
    found = []
    for r in _rows(key_results):
        status = str(r.status)
        quote, url = quotes.get((str(r.metric_id), r.day), (None, None))
        text = (
            f"Key result {r.metric_id} of '{r.objective_title}' is {STATUS_WORDS.get(status, status)} on {r.day}: "
            f"progress {r.progress:.0%} of the {r.expected_progress:.0%} expected (value {r.value:g}, target "
            f"{r.target:g})"
        )
        found.append(
            Observation(f"kr:{r.objective_id}:{int(r.key_result_no)}", status, status in rules.notify, text, quote, url)
        )
    if not conflicts.empty:
        latest = max(conflicts["day"])
        recent = conflicts[conflicts["day"] > latest - timedelta(days=CONFLICT_LOOKBACK_DAYS)]
        for metric_id, rows in recent.sort_values("day").groupby("metric_id", sort=True):
            r = rows.iloc[-1]
            gap = conflict_gap(float(r["value"]), r["conflict"])
            quote, url = quotes.get((str(metric_id), r["day"]), (None, None))
            text = (
                f"{metric_id} on {r['day']}: sources disagree by {gap:.0%}; the most authoritative reading "
                f"{float(r['value']):g} was published"
            )
            alerting = "conflict" in rules.notify and gap >= rules.min_conflict_gap
            found.append(Observation(f"conflict:{metric_id}", r["day"].isoformat(), alerting, text, quote, url))
    return found


def changes(last: Mapping[str, str], observations: Iterable[Observation]) -> tuple[list[Observation], dict[str, str]]:
    """The observations to alert on, and the states to keep without a message (changes that do not alert)."""
    alert, quiet = [], {}
    for o in observations:
        if last.get(o.key) == o.state:
            continue
        if o.alerting:
            alert.append(o)
        else:
            quiet[o.key] = o.state
    return alert, quiet


def alert_blocks(o: Observation) -> list[dict[str, Any]]:
    """One alert as Block Kit: the statement, then its quote and source link when it has them."""
    escape = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
    text = f":rotating_light: {o.text.translate(escape)}"
    if o.quote:
        text += f"\n> _{o.quote[:280].translate(escape)}_"
        if o.url:
            text += f" <{o.url.replace('|', '%7C').replace('>', '%3E')}|source>"
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}]
