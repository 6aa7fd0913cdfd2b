"""The extraction asset calibrates confidence. Acceptance: a map for the anthropic backend is fitted through
the local Anthropic server (the real SDK, strict response validation) on a small labelled dataset, and
`kpi-pipeline calibrate --backend anthropic` writes the same map; the next Dagster run applies it: each
value's confidence is the map's reading of its confidence_raw, and the run names the map it used. Without a
map the run says so and the raw confidence is both."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anthropic
import numpy as np
import pandas as pd
import pytest

from kpi_pipeline.calibration.apply import calibrated, map_key
from kpi_pipeline.calibration.labels import held_out
from kpi_pipeline.calibration.mapfile import find_map
from kpi_pipeline.demo import generate_dataset
from kpi_pipeline.extraction.anthropic_backend import AnthropicBackend
from kpi_pipeline.extraction.cost import load_prices
from kpi_pipeline.extraction.llm_config import DEFAULT_MODEL
from kpi_pipeline.orchestration.calibrate import calibrate
from kpi_pipeline.testing.anthropic_server import serve_anthropic
from kpi_pipeline.warehouse import open_warehouse
from tests.assets.test_extract_anthropic import (
    CONFIG_PREFIXES,
    DAY,
    KEY,
    definitions_under,
    materialize,
    pipeline_env,
)

FIT_DAYS = 8  # the quarter's first days: some are held out, most fitted


def small_dataset(tmp: Path) -> Path:
    """The demo company with truth for its first days only (the sources stay whole: the run reads DAY)."""
    dataset = generate_dataset(tmp / "demo", seed=7).out_dir
    truth = pd.read_csv(dataset / "truth.csv")
    first = sorted(truth["date"].unique())[:FIT_DAYS]
    truth[truth["date"].isin(first)].to_csv(dataset / "truth.csv", index=False)
    assert any(held_out(pd.Timestamp(d).date()) for d in first) and not all(
        held_out(pd.Timestamp(d).date()) for d in first
    )
    return dataset


@pytest.mark.slow
def test_a_map_fitted_through_the_server_is_applied_by_the_next_run(tmp_path: Path) -> None:
    dataset, maps = small_dataset(tmp_path), tmp_path / "calibration"
    with serve_anthropic(api_key=KEY) as server:
        client = anthropic.Anthropic(
            api_key=KEY, base_url=server.base_url, max_retries=0, _strict_response_validation=True
        )
        backend = AnthropicBackend(client, DEFAULT_MODEL, load_prices(), None, None, batch_min_days=None)
        cmap, path = calibrate([dataset], backend, maps, "kpi-pipeline calibrate demo --backend anthropic")
        assert path == maps / map_key("anthropic", DEFAULT_MODEL).file_name
        assert find_map(map_key("anthropic", DEFAULT_MODEL), maps) == cmap
        assert cmap.datasets == ("demo",) and cmap.fitted_readings > 0 and server.message_requests > 0

        url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
        env = pipeline_env(
            dataset,
            url,
            tmp_path / "cache",
            KPI_LLM_BACKEND="anthropic",
            ANTHROPIC_API_KEY=KEY,
            ANTHROPIC_BASE_URL=server.base_url,
            KPI_CALIBRATION_DIR=str(tmp_path / "from_cli"),
        )
        command = [sys.executable, "-m", "kpi_pipeline.cli", "calibrate", str(dataset), "--backend", "anthropic"]
        clean = {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES)}
        proc = subprocess.run(command, capture_output=True, text=True, env={**clean, **env}, timeout=600)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        from_cli = find_map(map_key("anthropic", DEFAULT_MODEL), tmp_path / "from_cli")
        assert from_cli is not None and from_cli.knots == cmap.knots and from_cli.labels_sha256 == cmap.labels_sha256
        with definitions_under(env) as defs:
            result = materialize(defs, partition_key=DAY)
    assert result.success
    metadata = {
        "/".join(m.asset_key.path): m.metadata["calibration"].value
        for m in result.asset_materializations_for_node("metric_extraction")
    }
    assert metadata == {"metric_candidates": f"calibration/{path.name}", "metric_values": f"calibration/{path.name}"}

    wh = open_warehouse(url)
    values = wh.query_df("SELECT value, confidence, confidence_raw, grounded FROM extract.metric_values")
    read = values[values["value"].notna()]
    expected = calibrated(cmap.knots, read["confidence_raw"].to_numpy(float), read["grounded"].to_numpy(bool))
    np.testing.assert_allclose(read["confidence"].to_numpy(float), expected)
    assert (read["confidence"] != read["confidence_raw"]).any()
    facts = wh.query_df(
        "SELECT f.confidence, f.confidence_raw, v.confidence AS gated FROM kpi.fct_metric_daily f "
        "JOIN extract.metric_values v USING (metric_id, day)"
    )
    assert len(facts) > 0 and (facts["confidence"] == facts["gated"]).all()
    assert (facts["confidence"] != facts["confidence_raw"]).any()


def test_with_no_map_for_the_backend_the_run_uses_the_raw_confidence_and_says_so(tmp_path: Path) -> None:
    dataset = generate_dataset(tmp_path / "demo", seed=7).out_dir
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    empty = tmp_path / "no_maps"
    empty.mkdir()
    env = pipeline_env(dataset, url, tmp_path / "cache", KPI_LLM_BACKEND="offline", KPI_CALIBRATION_DIR=str(empty))
    with definitions_under(env) as defs:
        result = materialize(defs, partition_key=DAY)
    assert result.success
    said = {m.metadata["calibration"].value for m in result.asset_materializations_for_node("metric_extraction")}
    assert said == {"none (raw confidence)"}
    values = open_warehouse(url).query_df("SELECT confidence, confidence_raw FROM extract.metric_values")
    assert len(values) > 0 and (values["confidence"] == values["confidence_raw"]).all()
