"""The alerts sensor: posts to the catalog's `alerts.channel` once per change (see kpi_pipeline.insights.alerts).

The cursor holds the last state of every watched key result and metric. A state is written to it only once its
message was posted, so a Slack failure is retried on the next tick and a re-evaluation with nothing new posts
nothing. The sensor never requests runs. Stopped by default: turn it on in the Dagster UI once the catalog has an
`alerts:` section and SLACK_BOT_TOKEN is set.
"""

from __future__ import annotations

import json

from dagster import DefaultSensorStatus, SensorEvaluationContext, SensorResult, SkipReason, sensor

from kpi_pipeline.insights.alerts import alert_blocks, changes, observe
from kpi_pipeline.insights.reads import read_alert_inputs, table_exists
from kpi_pipeline.insights.slack_post import SlackPostError, post_or_update
from kpi_pipeline.resources.catalog import CatalogResource
from kpi_pipeline.resources.slack_post import SlackPoster
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.warehouse import Warehouse, open_warehouse
from kpi_pipeline.warehouse.duckdb_engine import DuckDBWarehouse
from kpi_pipeline.warehouse.engine import WarehouseError

LOCK_WAIT_S = 20.0  # a DuckDB file a run is writing is read on a later tick, not waited for past the tick's timeout


def _reader(url: str) -> Warehouse:
    """The warehouse for reading only: no DDL, and a short wait for DuckDB's writer lock."""
    wh = open_warehouse(url)
    if isinstance(wh, DuckDBWarehouse):
        wh.lock_timeout_s = LOCK_WAIT_S
    return wh


def _cursor(text: str | None) -> dict[str, str]:
    try:
        state = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in state.items()} if isinstance(state, dict) else {}


@sensor(
    name="kpi_alerts",
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.STOPPED,
    description="Posts to the catalog's alerts.channel when a key result turns at risk or off track, or a metric "
    "gets a new conflict; once per change (the last alerted state is the cursor).",
)
def kpi_alerts(
    context: SensorEvaluationContext, warehouse: WarehouseResource, catalog: CatalogResource, slack_poster: SlackPoster
) -> SensorResult | SkipReason:
    rules = catalog.load().alerts
    if rules is None:
        return SkipReason("the catalog has no alerts: section, so there is nothing to alert on")
    last = _cursor(context.cursor)
    try:
        wh = _reader(warehouse.url)
        if not table_exists(wh, "kpi", "okr_progress"):
            return SkipReason("nothing is published yet (no kpi.okr_progress)")
        inputs = read_alert_inputs(wh)
    except WarehouseError as exc:
        return SkipReason(f"the warehouse could not be read this tick, nothing changes: {exc}")
    alert, quiet = changes(last, observe(*inputs, rules))
    state = {**last, **quiet}
    failed: list[str] = []
    if alert:
        try:
            client = slack_poster.client("alerts")
        except SlackPostError as exc:
            return SensorResult(skip_reason=SkipReason(str(exc)), cursor=json.dumps(state, sort_keys=True))
        for o in alert:
            try:
                post_or_update(client, rules.channel, o.text, alert_blocks(o))
            except SlackPostError as exc:
                failed.append(str(exc))
                continue
            state[o.key] = o.state
    posted = len(alert) - len(failed)
    summary = f"{posted} alert(s) posted to {rules.channel}" if alert else "nothing changed since the last alert"
    if failed:
        summary += f"; {len(failed)} not posted, retried next tick: {failed[0]}"
        context.log.warning(summary)
    return SensorResult(skip_reason=SkipReason(summary), cursor=json.dumps(state, sort_keys=True))
