"""A batch-mode backfill through the local Anthropic server's Message Batches endpoint: errored and expired
items are resubmitted, and items that keep failing are reported on their day, never dropped."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from kpi_pipeline.catalog import Catalog
from kpi_pipeline.extraction.llm_config import DEFAULT_BATCH_MIN_DAYS
from kpi_pipeline.extraction.pipeline import DayExtraction, RawDay, extract_days
from kpi_pipeline.extraction.schema import NOT_READ_PREFIX
from kpi_pipeline.orchestration.estimate import raw_days_from_sources
from kpi_pipeline.quality.gate import run_gate
from kpi_pipeline.testing.anthropic_server import serve_anthropic
from tests.orchestration.test_estimate import KEY, claude, demo_days, demo_sources


@pytest.fixture(scope="module")
def fortnight(dataset: Path) -> dict[date, RawDay]:
    return raw_days_from_sources(*demo_sources(dataset), demo_days(DEFAULT_BATCH_MIN_DAYS))


@pytest.fixture(scope="module")
def one_by_one(fortnight: dict[date, RawDay], catalog: Catalog) -> dict[date, DayExtraction]:
    """The same days without faults, one call at a time: what every batch item should answer."""
    with serve_anthropic(api_key=KEY) as server:
        return extract_days(fortnight, catalog, claude(server))


def frame(results: dict[date, DayExtraction], part: str) -> pd.DataFrame:
    return pd.concat([getattr(r, part) for r in results.values()], ignore_index=True).astype({"value": float})


def test_errored_and_expired_items_are_resubmitted_and_every_day_is_extracted(
    fortnight: dict[date, RawDay], catalog: Catalog, one_by_one: dict[date, DayExtraction]
) -> None:
    with serve_anthropic(api_key=KEY, batch_errored=3, batch_expired=2) as server:
        results = extract_days(fortnight, catalog, claude(server, batch_min_days=DEFAULT_BATCH_MIN_DAYS))
        assert server.message_requests == 0 and server.requests["POST /v1/messages/batches"] == 2
    calls = pd.concat([r.calls for r in results.values()])
    assert calls["batch"].all() and len(calls) == sum(len(r.calls) for r in one_by_one.values())
    pd.testing.assert_frame_equal(frame(results, "values"), frame(one_by_one, "values"))


def test_items_that_keep_failing_are_reported_on_their_day_and_the_rest_published(
    fortnight: dict[date, RawDay], catalog: Catalog, one_by_one: dict[date, DayExtraction]
) -> None:
    with serve_anthropic(api_key=KEY, batch_errored=3, batch_expired=2) as server:
        backend = claude(server, batch_min_days=DEFAULT_BATCH_MIN_DAYS, batch_max_resubmits=0)
        results = extract_days(fortnight, catalog, backend)
    calls = pd.concat([r.calls for r in results.values()], ignore_index=True)
    failed = calls[calls["output_tokens"] == 0]  # no message came back for these items: nothing was billed
    assert len(failed) == 5  # three errored and two expired items
    failed_readings = {
        (day, source_type, metric_id)
        for day, source_type, metric_ids in zip(failed["day"], failed["source_type"], failed["metric_ids"], strict=True)
        for metric_id in json.loads(metric_ids)
    }

    # reported: each metric of a failed item is an abstained reading that says what happened
    candidates = frame(results, "candidates")
    reported = candidates[candidates["reasoning"].str.startswith(NOT_READ_PREFIX + "batch item")]
    assert set(zip(reported["day"], reported["source_type"], reported["metric_id"], strict=True)) == failed_readings
    assert reported["reasoning"].str.endswith("after 1 submissions").all()
    assert reported["reasoning"].str.contains("errored").any() and reported["reasoning"].str.contains("expired").any()

    # published or held back with reasons: every day has every metric, and what no failed item touched is
    # exactly what the fault-free run gave
    values = frame(results, "values")
    assert len(values) == len(fortnight) * len(catalog.metrics)
    stored = values.assign(run_id="test", computed_at=pd.Timestamp.now(tz="UTC"))  # as extract.metric_values holds it
    gate = run_gate(stored, catalog, sorted(fortnight))
    assert not gate.structural
    assert all(len(reasons) > 0 for reasons in gate.quarantine["reasons"])
    abstained = int(values["value"].isna().sum() - gate.quarantine["value"].isna().sum())
    assert len(gate.publish) + len(gate.quarantine) + abstained == len(values)  # published, held back, or abstained
    touched = {(day, metric_id) for day, _, metric_id in failed_readings}
    keys = list(zip(values["day"], values["metric_id"], strict=True))
    untouched = values[[key not in touched for key in keys]].set_index(["day", "metric_id"])["value"]
    baseline = frame(one_by_one, "values").set_index(["day", "metric_id"])["value"]
    pd.testing.assert_series_equal(untouched, baseline.loc[untouched.index])
