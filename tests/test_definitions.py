"""The Definitions object: loads, and every asset spec matches the reviewed snapshot.

A change to an asset's key, group, partitioning, dependencies, backfill policy, pool or what its code_version
is made of shows up here as a diff to review (regenerate with KPI_UPDATE_SNAPSHOTS=1). The prompt version and
the catalog hash are recorded as <prompt> and <catalog>, so editing metrics.yaml does not touch the snapshot.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kpi_pipeline.definitions import defs
from kpi_pipeline.extraction.schema import PROMPT_VERSION
from kpi_pipeline.orchestration.versions import CATALOG_CODE_VERSION

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_specs.json"


def code_version_shape(version: str | None) -> str | None:
    if version is None:
        return None
    return version.replace(CATALOG_CODE_VERSION, "<catalog>").replace(PROMPT_VERSION, "<prompt>")


def asset_specs() -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    specs: dict[str, Any] = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        policy = node.backfill_policy
        specs[key.to_user_string()] = {
            "group": node.group_name,
            "partitioned": type(node.partitions_def).__name__ if node.partitions_def else None,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "kinds": sorted(node.kinds),
            "backfill_policy": policy.policy_type.value if policy else None,
            "pools": sorted(defs.resolve_assets_def(key).node_def.pools),
            "checks": sorted(c.name for c in node.check_keys),
            "code_version": code_version_shape(node.code_version),
        }
    return specs


def test_every_asset_spec_matches_the_snapshot() -> None:
    specs = asset_specs()
    if os.environ.get("KPI_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(specs, indent=2, sort_keys=True) + "\n")
    assert specs == json.loads(SNAPSHOT.read_text())


def test_a_prompt_or_catalog_change_changes_the_code_version_of_what_it_changes(tmp_path: Path) -> None:
    from kpi_pipeline.catalog import load_catalog
    from kpi_pipeline.orchestration.versions import EXTRACTION_CODE_VERSION, catalog_code_version
    from kpi_pipeline.settings import catalog_path

    graph = defs.resolve_asset_graph()
    versions = {k.to_user_string(): graph.get(k).code_version for k in graph.get_all_asset_keys()}
    assert versions["metric_values"] == versions["metric_candidates"] == EXTRACTION_CODE_VERSION
    assert PROMPT_VERSION in EXTRACTION_CODE_VERSION and CATALOG_CODE_VERSION in EXTRACTION_CODE_VERSION
    assert versions["fct_metric_daily"] == versions["dim_metric"] == CATALOG_CODE_VERSION

    text = catalog_path().read_text()
    edited = tmp_path / "metrics.yaml"
    catalog = load_catalog(catalog_path())
    first = catalog.metrics[0]
    edited.write_text(text.replace(first.description, first.description + " (edited)", 1))
    assert catalog_code_version(edited) != CATALOG_CODE_VERSION == catalog_code_version(catalog_path())
    assert catalog_code_version(tmp_path / "missing.yaml") == "catalog-missing"


def test_every_daily_asset_is_a_single_run_backfill_on_the_shared_partitions() -> None:
    from kpi_pipeline.orchestration.schedules import DAILY_ASSETS
    from kpi_pipeline.partitions import daily_partitions

    graph = defs.resolve_asset_graph()
    for name in DAILY_ASSETS:
        node = graph.get(next(k for k in graph.get_all_asset_keys() if k.to_user_string() == name))
        assert node.partitions_def == daily_partitions, name
        assert node.backfill_policy is not None and node.backfill_policy.max_partitions_per_run is None, name


def test_the_quality_gate_blocks_and_the_publish_step_depends_on_what_it_checks() -> None:
    from kpi_pipeline import checks

    spec = next(iter(checks.metric_values_quality_gate.check_specs))
    assert spec.name == "quality_gate" and spec.blocking
    assert spec.asset_key.to_user_string() == "metric_values"
    graph = defs.resolve_asset_graph()
    assert spec.key in graph.asset_check_keys
    publishers = [k.to_user_string() for k in graph.get_all_asset_keys() if spec.asset_key in graph.get(k).parent_keys]
    assert "fct_metric_daily" in publishers


def test_secrets_are_passed_as_env_vars_not_values(monkeypatch: Any) -> None:
    import importlib

    import kpi_pipeline.definitions as module

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret-value")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret-value")
    reloaded = importlib.reload(module)
    try:
        llm, slack = reloaded.resources["llm"], reloaded.resources["slack"]
        for field, name in ((llm.api_key, "ANTHROPIC_API_KEY"), (slack.token, "SLACK_BOT_TOKEN")):
            assert "secret-value" not in repr(field)
            assert getattr(field, "env_var_name", None) == name
    finally:
        monkeypatch.delenv("ANTHROPIC_API_KEY")
        monkeypatch.delenv("SLACK_BOT_TOKEN")
        importlib.reload(module)


def test_resource_reprs_never_show_secrets() -> None:
    from kpi_pipeline.resources.jira import JiraSource
    from kpi_pipeline.resources.llm import LlmResource
    from kpi_pipeline.resources.slack import SlackSource

    shown = [
        repr(JiraSource(source="api", api_token="secret-1")),
        repr(LlmResource(api_key="secret-2")),
        repr(SlackSource(source="api", token="secret-3")),
    ]
    assert not [r for r in shown if "secret-" in r]


def test_the_digest_runs_weekly_outside_the_daily_job_and_the_alerts_sensor_is_registered() -> None:
    from kpi_pipeline.partitions import weekly_partitions

    graph = defs.resolve_asset_graph()
    digest = graph.get(next(k for k in graph.get_all_asset_keys() if k.to_user_string() == "weekly_digest"))
    assert digest.partitions_def == weekly_partitions
    daily = defs.resolve_job_def("daily_kpi_job")
    assert "weekly_digest" not in {k.to_user_string() for k in daily.asset_layer.selected_asset_keys}
    repository = defs.get_repository_def()
    assert {s.name for s in repository.schedule_defs} == {"daily_kpi_schedule", "weekly_digest_job_schedule"}
    assert [(s.name, s.default_status.value) for s in repository.sensor_defs] == [("kpi_alerts", "STOPPED")]


def test_the_slack_poster_takes_the_bot_token_as_an_env_var_and_never_shows_it(monkeypatch: Any) -> None:
    import importlib

    import kpi_pipeline.definitions as module
    from kpi_pipeline.resources.slack_post import SlackPoster

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret-value")
    monkeypatch.setenv("KPI_DIGEST_SLACK_CHANNEL", "#kpi")
    reloaded = importlib.reload(module)
    try:
        poster = reloaded.resources["slack_poster"]
        assert getattr(poster.token, "env_var_name", None) == "SLACK_BOT_TOKEN"
        assert getattr(poster.digest_channel, "env_var_name", None) == "KPI_DIGEST_SLACK_CHANNEL"
    finally:
        monkeypatch.delenv("SLACK_BOT_TOKEN")
        monkeypatch.delenv("KPI_DIGEST_SLACK_CHANNEL")
        importlib.reload(module)
    assert "secret" not in repr(SlackPoster(token="xoxb-secret-1")) and "token=<set>" in str(SlackPoster(token="x"))
