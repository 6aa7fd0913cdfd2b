"""`kpi-pipeline eval` scores a dataset folder; CI gates the demo quarter and reports a holdout dataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kpi_pipeline.catalog import load_catalog
from kpi_pipeline.demo import generate_dataset
from kpi_pipeline.resources.llm import endpoint_dir_name
from kpi_pipeline.testing.anthropic_server import serve_anthropic

REPO = Path(__file__).resolve().parents[1]
KEY = "sk-ant-eval-test"
KEYS = {"accuracy", "abstention_precision", "abstention_recall", "grounded_rate", "ece", "input_tokens"}
KEYS |= {"output_tokens", "cost_usd", "per_metric"}


def run_eval(dataset: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "kpi_pipeline.cli", "eval", str(dataset), "--json", str(out), *extra]
    env = dict(os.environ, KPI_WAREHOUSE_URL="duckdb:///must/not/be/touched.duckdb")
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=600)


@pytest.mark.slow
def test_the_demo_quarter_meets_the_accuracy_bar(tmp_path: Path) -> None:
    dataset = tmp_path / "demo"
    generate_dataset(dataset, seed=7)
    # every demo metric follows the catalog default: a day's value is the freshest one reported that day
    assert {m.series_rule for m in load_catalog(dataset / "metrics.yaml").metrics} == {"as_reported"}
    proc = run_eval(dataset, tmp_path / "report.json", "--min-accuracy", "0.95")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report) >= KEYS
    assert report["accuracy"] >= 0.95
    assert report["abstention_precision"] >= 0.9 and report["abstention_recall"] >= 0.9
    assert len(report["per_metric"]) == 12  # every metric of the demo catalog
    assert not (REPO / "must").exists()  # a scratch warehouse, never the configured one
    print(proc.stdout)


@pytest.mark.slow
def test_the_holdout_dataset_is_scored_and_an_impossible_bar_fails(tmp_path: Path) -> None:
    """Another seed and other phrasings: the figures are reported whatever they are."""
    dataset = tmp_path / "holdout"
    generate_dataset(dataset, seed=11, phrasings="holdout")
    proc = run_eval(dataset, tmp_path / "report.json", "--min-accuracy", "1.01")
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "below --min-accuracy" in proc.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report) >= KEYS
    print(proc.stdout)


def test_a_folder_without_truth_is_refused_with_what_a_dataset_holds(tmp_path: Path) -> None:
    proc = run_eval(tmp_path, tmp_path / "report.json")
    assert proc.returncode != 0
    assert "truth.csv" in proc.stderr and "metrics.yaml" in proc.stderr


def test_eval_against_a_server_uses_the_documented_llm_settings(tmp_path: Path) -> None:
    """KPI_LLM_RESPONSE_CACHE_DIR holds the answers (not ./data/llm_cache of wherever eval runs, where another
    server's answers could be served with 0 tokens billed) and KPI_LLM_BATCH_MIN_DAYS picks the Batches API."""
    dataset = tmp_path / "demo"
    generate_dataset(dataset, seed=7)
    truth = (dataset / "truth.csv").read_text().splitlines()
    two_days = sorted({line.split(",")[0] for line in truth[1:]})[:2]
    (dataset / "truth.csv").write_text("\n".join([truth[0], *(t for t in truth[1:] if t.split(",")[0] in two_days)]))
    here, cache = tmp_path / "here", tmp_path / "answers"
    here.mkdir()
    with serve_anthropic(api_key=KEY) as server:
        env = dict(
            os.environ,
            ANTHROPIC_API_KEY=KEY,
            ANTHROPIC_BASE_URL=server.base_url,
            KPI_LLM_RESPONSE_CACHE_DIR=str(cache),
            KPI_LLM_BATCH_MIN_DAYS="2",
        )
        cmd = [sys.executable, "-m", "kpi_pipeline.cli", "eval", str(dataset), "--backend", "anthropic"]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=here, env=env, timeout=600)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert server.requests["POST /v1/messages/batches"] == 1 and server.message_requests == 0
    assert list((cache / endpoint_dir_name(server.base_url)).rglob("*.json")), "no answer cached where the setting says"
    assert not (here / "data").exists()
    assert f"{cache / endpoint_dir_name(server.base_url)}" in proc.stdout
    assert "2 days, backend anthropic" in proc.stdout
