"""`kpi-pipeline ask` from the command line: the answer on stdout, where it was recorded on stderr, exit 0
for an answer, 1 for "not in the data", 2 and one line for a mistake; offline by default, Claude with a key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kpi_pipeline.testing.anthropic_server import serve_anthropic

KEY = "sk-ant-local"


def ask(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "KPI_"))}
    cmd = [sys.executable, "-m", "kpi_pipeline.cli", "ask", *args]
    return subprocess.run(cmd, cwd=cwd, env=base | env, capture_output=True, text=True, timeout=120)


def test_offline_answers_and_says_not_in_the_data_with_exit_1(demo: Any, tmp_path: Path) -> None:
    fact = demo.data.series("deploys_per_day")[0]
    env = {"KPI_WAREHOUSE_URL": demo.url, "KPI_CATALOG": str(demo.catalog_path)}
    answered = ask(tmp_path, f"How many production deploys on {fact.day}?", "--today", "2026-10-01", **env)
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.startswith(f"deploys_per_day on {fact.day}: {fact.value:g} count [deploys_per_day, ")
    assert "backend offline; recorded in extract.ask_log as " in answered.stderr
    missing = ask(tmp_path, "What was the error rate on 2026-11-15?", **env)
    assert missing.returncode == 1, missing.stderr
    assert missing.stdout.strip() == "not in the data: no published value of api_error_rate on 2026-11-15"


def test_with_a_key_claude_answers_through_the_tools(demo: Any, tmp_path: Path) -> None:
    fact = demo.data.series("mrr_usd")[0]
    with serve_anthropic(api_key=KEY) as server:
        env = {"KPI_WAREHOUSE_URL": demo.url, "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": server.base_url}
        proc = ask(tmp_path, f"What was mrr_usd on {fact.day}?", **env)
    assert proc.returncode == 0, proc.stderr
    quote = fact.quotes[0].text
    assert proc.stdout.strip() == f'mrr_usd on {fact.day} was {fact.value} [mrr_usd, {fact.day}: "{quote}"]'
    assert "backend anthropic; recorded in extract.ask_log" in proc.stderr
    assert server.message_requests == 2


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["  "], "give a question"),
        (["latest nps", "--today", "2026-13-01"], "--today '2026-13-01' is not a day"),
        (["nps on 2026-02-30"], "'2026-02-30' is not a date"),
    ],
)
def test_a_mistake_is_one_line_and_exit_2(demo: Any, tmp_path: Path, args: list[str], says: str) -> None:
    proc = ask(tmp_path, *args, KPI_WAREHOUSE_URL=demo.url)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith("kpi-pipeline ask: ") and says in line


def test_a_missing_warehouse_says_how_to_make_one(tmp_path: Path) -> None:
    proc = ask(tmp_path, "latest nps", KPI_WAREHOUSE_URL=f"duckdb:///{tmp_path / 'none.duckdb'}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.splitlines()
    assert f"no warehouse at {tmp_path / 'none.duckdb'}" in line and "make demo" in line
