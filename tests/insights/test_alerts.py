"""Alerts post once per change: a key result turning at risk or off track, a metric's new conflict."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from dagster import SensorResult, SkipReason, build_sensor_context

from kpi_pipeline.catalog import Alerts
from kpi_pipeline.dashboard.sample import write_sample
from kpi_pipeline.insights.alerts import CONFLICT_LOOKBACK_DAYS, changes, conflict_gap, observe
from kpi_pipeline.orchestration.alerts import kpi_alerts
from kpi_pipeline.resources.catalog import CatalogResource
from kpi_pipeline.resources.slack_post import SlackPoster
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.testing.slack_server import SlackApiServer
from kpi_pipeline.warehouse import open_warehouse

DAY = date(2026, 7, 20)
RULES = Alerts(channel="#general")
NO_EVIDENCE = pd.DataFrame(columns=["metric_id", "day", "quote", "url"])
NO_CONFLICTS = pd.DataFrame(columns=["metric_id", "day", "value", "conflict"])


def key_result(no: int, status: str) -> dict[str, object]:
    return {"objective_id": "reliable", "objective_title": "Reliable API", "key_result_no": no,
            "metric_id": f"kpi_{no}", "day": DAY, "value": 3.0, "target": 1.0, "progress": 0.1,
            "expected_progress": 0.2, "status": status}  # fmt: skip


def states(*statuses: str) -> pd.DataFrame:
    return pd.DataFrame([key_result(no, s) for no, s in enumerate(statuses, start=1)])


def test_a_key_result_alerts_when_it_turns_at_risk_or_off_track_and_only_then() -> None:
    first, quiet = changes({}, observe(states("on_track", "at_risk", "off_track"), NO_CONFLICTS, NO_EVIDENCE, RULES))
    assert [(o.key, o.state) for o in first] == [("kr:reliable:2", "at_risk"), ("kr:reliable:3", "off_track")]
    assert quiet == {"kr:reliable:1": "on_track"}
    assert "Key result kpi_3 of 'Reliable API' is off track on 2026-07-20: progress 10% of the 20%" in first[1].text
    kept = {**quiet, **{o.key: o.state for o in first}}
    assert changes(kept, observe(states("on_track", "at_risk", "off_track"), NO_CONFLICTS, NO_EVIDENCE, RULES)) == (
        [],
        {},
    )
    worse, _ = changes(kept, observe(states("on_track", "off_track", "off_track"), NO_CONFLICTS, NO_EVIDENCE, RULES))
    assert [(o.key, o.state) for o in worse] == [("kr:reliable:2", "off_track")]
    recovered, quiet = changes(
        kept, observe(states("on_track", "at_risk", "on_track"), NO_CONFLICTS, NO_EVIDENCE, RULES)
    )
    assert recovered == [] and quiet == {"kr:reliable:3": "on_track"}


def test_only_the_events_the_catalog_names_alert() -> None:
    rules = Alerts(channel="#general", notify=("off_track",))
    alert, quiet = changes({}, observe(states("at_risk", "off_track"), NO_CONFLICTS, NO_EVIDENCE, rules))
    assert [o.key for o in alert] == ["kr:reliable:2"] and quiet == {"kr:reliable:1": "at_risk"}


def test_a_new_conflict_alerts_once_with_its_quote_and_a_small_one_stays_under_the_threshold() -> None:
    sides = json.dumps([{"source_type": "slack", "value": 4.0}, {"source_type": "docs", "value": 5.0}])
    conflicts = pd.DataFrame(
        [
            {"metric_id": "errors", "day": DAY - timedelta(days=1), "value": 5.0, "conflict": sides},
            {"metric_id": "errors", "day": DAY, "value": 5.0, "conflict": sides},
            {"metric_id": "latency", "day": DAY, "value": 100.0, "conflict": json.dumps([{"value": 101.0}])},
            {
                "metric_id": "stale",
                "day": DAY - timedelta(days=CONFLICT_LOOKBACK_DAYS),
                "value": 1.0,
                "conflict": sides,
            },
        ]
    )
    evidence = pd.DataFrame([{"metric_id": "errors", "day": DAY, "quote": "errors at 5%", "url": "https://x.io/1"}])
    rules = Alerts(channel="#general", min_conflict_gap=0.1)
    alert, quiet = changes({}, observe(states(), conflicts, evidence, rules))
    assert [(o.key, o.state, o.quote, o.url) for o in alert] == [
        ("conflict:errors", DAY.isoformat(), "errors at 5%", "https://x.io/1")
    ]
    assert "sources disagree by 20%" in alert[0].text
    assert quiet == {"conflict:latency": DAY.isoformat()}  # 1% apart: recorded, not alerted
    assert changes({"conflict:errors": DAY.isoformat(), **quiet}, observe(states(), conflicts, evidence, rules)) == (
        [],
        {},
    )


def test_conflict_gap_is_the_spread_of_the_readings_over_the_published_value() -> None:
    assert conflict_gap(5.0, json.dumps([{"value": 4.0}, {"value": 6.0}])) == pytest.approx(0.4)
    assert conflict_gap(0.0, json.dumps([{"value": 1.0}])) == float("inf")
    assert conflict_gap(5.0, "not json") == 0.0


def test_the_sensor_posts_each_change_once_and_retries_what_slack_refused(tmp_path: Path, realdata: Path) -> None:
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    wh = open_warehouse(url)
    write_sample(wh, n_metrics=8)
    catalog = tmp_path / "metrics.yaml"
    catalog.write_text(
        "metrics:\n  - {id: kpi_01, description: d, unit: count}\nalerts: {channel: '#general', notify: [off_track]}\n"
    )
    off_track = wh.scalar(
        "SELECT COUNT(*) FROM kpi.okr_progress WHERE day = DATE '2026-09-30' AND status = 'off_track'"
    )
    assert off_track > 0
    server = SlackApiServer(realdata / "slack_exports" / "houstondatavis", token="xoxb-alerts")

    def tick(cursor: str | None, token: str = "xoxb-alerts") -> SensorResult:
        resources = {
            "warehouse": WarehouseResource(url=url),
            "catalog": CatalogResource(path=str(catalog)),
            "slack_poster": SlackPoster(token=token, api_url=server.base_url),
        }
        result = kpi_alerts(build_sensor_context(cursor=cursor, resources=resources))
        assert isinstance(result, SensorResult) and not result.run_requests
        return result

    with server:
        refused = tick(None, token="xoxb-wrong")
        assert server.posted("#general") == []
        assert "not posted, retried next tick" in str(refused.skip_reason)
        first = tick(refused.cursor)
        posted = server.posted("#general")
        assert len(posted) == off_track and all("is off track on 2026-09-30" in m["text"] for m in posted)
        assert "alert(s) posted to #general" in str(first.skip_reason)
        again = tick(first.cursor)
        assert len(server.posted("#general")) == off_track and again.cursor == first.cursor
        assert "nothing changed since the last alert" in str(again.skip_reason)


def test_without_an_alerts_section_the_sensor_skips_and_says_why(tmp_path: Path) -> None:
    catalog = tmp_path / "metrics.yaml"
    catalog.write_text("metrics:\n  - {id: kpi_01, description: d, unit: count}\n")
    resources = {
        "warehouse": WarehouseResource(url=f"duckdb:///{tmp_path / 'never-opened.duckdb'}"),
        "catalog": CatalogResource(path=str(catalog)),
        "slack_poster": SlackPoster(),
    }
    result = kpi_alerts(build_sensor_context(resources=resources))
    assert isinstance(result, SkipReason) and "no alerts: section" in str(result.skip_message)
    assert not (tmp_path / "never-opened.duckdb").exists()


def test_a_warehouse_a_run_is_writing_is_read_on_a_later_tick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl

    import kpi_pipeline.orchestration.alerts as sensor_module

    path = tmp_path / "warehouse.duckdb"
    write_sample(open_warehouse(f"duckdb:///{path}"), n_metrics=8)
    catalog = tmp_path / "metrics.yaml"
    catalog.write_text("metrics:\n  - {id: kpi_01, description: d, unit: count}\nalerts: {channel: '#general'}\n")
    resources = {
        "warehouse": WarehouseResource(url=f"duckdb:///{path}"),
        "catalog": CatalogResource(path=str(catalog)),
        "slack_poster": SlackPoster(token="xoxb-unused"),
    }
    monkeypatch.setattr(sensor_module, "LOCK_WAIT_S", 0.1)
    with open(path.with_name(path.name + ".lock"), "a+") as held:  # what a writing run holds
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        result = kpi_alerts(build_sensor_context(cursor='{"kr:x:1": "at_risk"}', resources=resources))
    assert isinstance(result, SkipReason) and "could not be read this tick" in str(result.skip_message)
