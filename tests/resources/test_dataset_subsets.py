"""`kpi-pipeline eval` and `estimate` accept a dataset holding only some of slack/, jira/ and docs/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DAYS = ("2026-07-01", "2026-07-02")


def docs_only_dataset(root: Path) -> Path:
    """Two dated status docs, the demo catalog and a truth file: no slack/, no jira/."""
    (root / "docs").mkdir(parents=True)
    for day, rate in zip(DAYS, ("3.2", "2.9"), strict=True):
        (root / "docs" / f"status-{day}.md").write_text(
            f"---\ndate: {day}\ntitle: Weekly status\n---\n# Weekly status\n\n"
            f"The API error rate was {rate}% this week.\n"
        )
    shutil.copy(REPO / "metrics.yaml", root / "metrics.yaml")
    (root / "truth.csv").write_text("date,metric,value\n" + "".join(f"{d},api_error_rate,\n" for d in DAYS))
    return root


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "kpi_pipeline.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=300)


def test_eval_scores_a_docs_only_dataset(tmp_path: Path) -> None:
    dataset = docs_only_dataset(tmp_path / "docs_only")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KPI_", "ANTHROPIC_"))}
    proc = cli("eval", str(dataset), "--json", str(tmp_path / "report.json"), env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert "api_error_rate" in report["per_metric"]


def test_estimate_reads_a_docs_only_dataset(tmp_path: Path) -> None:
    dataset = docs_only_dataset(tmp_path / "docs_only")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KPI_", "ANTHROPIC_", "SLACK_", "JIRA_"))}
    env |= {"KPI_DATASET": str(dataset), "KPI_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'wh.duckdb'}"}
    proc = cli("estimate", DAYS[0], DAYS[1], env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("estimate for 2 day(s)"), proc.stdout
    requests = next(line for line in proc.stdout.splitlines() if line.strip().startswith("requests"))
    assert int(requests.split()[-1]) > 0  # the docs were read


def test_an_explicit_source_path_that_does_not_exist_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    dataset = docs_only_dataset(tmp_path / "docs_only")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KPI_", "ANTHROPIC_", "SLACK_", "JIRA_"))}
    env |= {
        "KPI_DATASET": str(dataset),
        "KPI_JIRA_SOURCE": str(tmp_path / "no_such_jira"),
        "KPI_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'wh.duckdb'}",
    }
    proc = cli("estimate", DAYS[0], DAYS[1], env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1:] == [
        f"kpi-pipeline estimate: KPI_JIRA_SOURCE='{tmp_path / 'no_such_jira'}' is not a folder: point it at a folder "
        "of Jira search-response JSON files, or set it to 'api' to read Jira Cloud"
    ]
