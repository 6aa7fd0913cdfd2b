"""Overrides through the daily Dagster job on both engines: accept, set and reject each survive a backfill run of
their day and a rerun after it; the history says `override` once, and a rerun that changes nothing adds no row."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from dagster import DagsterInstance, Failure

from kpi_pipeline.demo.generate import generate_dataset
from kpi_pipeline.orchestration.backfill import restated
from kpi_pipeline.review.listing import pending
from kpi_pipeline.review.overrides import load_overrides
from kpi_pipeline.review.session import Decision, decide
from kpi_pipeline.warehouse import Warehouse, open_warehouse
from tests.assets.test_extract_anthropic import definitions_under, materialize, pipeline_env

BACKFILL_TAGS = {"dagster/backfill": "overrides"}  # what Dagster puts on a backfill's runs


def facts(wh: Warehouse) -> dict[str, tuple[float, str]]:
    df = wh.query_df("SELECT metric_id, value, status FROM kpi.fct_metric_daily")
    return {str(m): (float(v), str(s)) for m, v, s in df.itertuples(index=False)}


@pytest.mark.slow
def test_each_action_survives_a_backfill_of_its_day_and_a_rerun(tmp_path: Path, warehouse_url: str) -> None:
    summary = generate_dataset(tmp_path / "demo", seed=7)
    hedged = next(p for p in summary.plants if p.case == "hedged")  # a low-confidence reading: quarantined
    day = hedged.day.isoformat()
    folder = tmp_path / "overrides"
    env = pipeline_env(summary.out_dir, warehouse_url, tmp_path / "cache", KPI_LLM_BACKEND="offline")
    env["KPI_OVERRIDES_DIR"] = str(folder)
    wh = open_warehouse(warehouse_url)
    with definitions_under(env) as defs:
        assert materialize(defs, partition_key=day).success
        before = facts(wh)
        quarantined = [p for p in pending(wh, []) if p.kind == "quarantined" and p.value is not None]
        accepted = next(p for p in quarantined if p.metric == hedged.metric_id)
        corrected, rejected = sorted(m for m in before if m != accepted.metric)[:2]
        now = datetime.now(UTC)
        decide(wh, folder, accepted.metric, hedged.day, Decision("accept", None, "ops confirmed", "alice"), now)
        decide(wh, folder, corrected, hedged.day, Decision("set", 42.0, "recounted by hand", "alice"), now)
        decide(wh, folder, rejected, hedged.day, Decision("reject", None, "wrong team's number", "alice"), now)
        assert len(load_overrides(folder)) == 3

        with DagsterInstance.ephemeral() as instance:  # the backfill run of the day, on an instance kept to ask
            job = defs.resolve_job_def("daily_kpi_job")
            assert job.execute_in_process(partition_key=day, tags=BACKFILL_TAGS, instance=instance).success
            assert restated(instance, wh, BACKFILL_TAGS["dagster/backfill"]) == 2  # set and reject; accept is new
        for tags in (BACKFILL_TAGS, None):  # the backfill run again, then a rerun: both apply the decisions
            assert materialize(defs, tags=tags, partition_key=day).success
            after = facts(wh)
            assert after[accepted.metric] == (accepted.value, "accepted")
            assert after[corrected] == (42.0, "overridden")
            assert rejected not in after
            others = {m: v for m, v in after.items() if m not in (accepted.metric, corrected)}
            assert others == {m: v for m, v in before.items() if m not in (accepted.metric, corrected, rejected)}

        (folder / "typo.yaml").write_text(f"overrides:\n  - metric: {corrected}\n    day: {day}\n    action: fix\n")
        decided = facts(wh)
        with pytest.raises(Failure, match=r"nothing published: .*typo\.yaml: overrides\[0\]: key 'reason' is missing"):
            materialize(defs, tags=BACKFILL_TAGS, partition_key=day)
        assert facts(wh) == decided  # a malformed file: nothing published
        (folder / "typo.yaml").unlink()

    history = wh.query_df("SELECT metric_id, reason FROM kpi.fct_metric_history ORDER BY metric_id, version")
    decided = history[history["metric_id"].isin([accepted.metric, corrected, rejected])]
    expected = [(accepted.metric, "override"), (corrected, "published"), (corrected, "override")]
    expected += [(rejected, "published"), (rejected, "override")]
    assert sorted(map(tuple, decided.itertuples(index=False))) == sorted(expected)
    assert len(history) == len(before) + 3  # the rerun changed nothing: no row
    assert [p.metric for p in pending(wh, load_overrides(folder)) if p.metric in (accepted.metric, rejected)] == []
