"""`kpi-pipeline backfill` against a model that refuses every request: the command exits 1 and names each day it
could not read with the reason; the same command against a healthy model redoes those days instead of saying
"nothing to do" (a day that was not read is not done)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from kpi_pipeline.testing.anthropic_server import serve_anthropic
from kpi_pipeline.warehouse import Warehouse, open_warehouse
from tests.orchestration.test_backfill import backfill, instance_env

KEY = "sk-ant-backfill-unread"
DAYS = ("2026-07-01", "2026-07-02", "2026-07-03")
ALL_REQUESTS = 10**6


def assert_every_asked_metric_was_unread(wh: Warehouse, held: Sequence[str]) -> None:
    """Each unfinished day's line counts the metrics left unread, and that count is every metric the day asked:
    the day's other values are abstentions (metrics no source named, never sent), none is a value. The ceiling
    counts unread metrics against the catalog's, so a day that asked few of them is partial, not held: its
    unread metrics keep their published versions either way."""
    by_day = wh.query_df(
        "SELECT CAST(day AS TEXT) AS day, count(*) FILTER (WHERE status = 'unread') AS unread, "
        "count(*) FILTER (WHERE status NOT IN ('unread', 'abstained')) AS other FROM extract.metric_values GROUP BY 1"
    ).set_index("day")
    for line in held:
        day = line.split(" ", 1)[0]
        found = re.search(r"(\d+) of 12 (?:metrics|answers) unread", line)
        assert found, line
        assert int(found.group(1)) == by_day.loc[day[:10], "unread"] > 0, line
        assert by_day.loc[day[:10], "other"] == 0, line


def anthropic_env(tmp_path: Path, base_url: str) -> dict[str, str]:
    """The demo into DuckDB through the local Anthropic server, synchronous calls, no client-side rate limit."""
    return instance_env(tmp_path) | {
        "KPI_LLM_BACKEND": "anthropic",
        "ANTHROPIC_API_KEY": KEY,
        "ANTHROPIC_BASE_URL": base_url,
        "KPI_LLM_REQUESTS_PER_MINUTE": "100000",
        "KPI_LLM_INPUT_TOKENS_PER_MINUTE": "1000000000",
    }


@pytest.mark.slow
def test_a_backfill_whose_answers_were_refused_exits_1_and_the_next_one_redoes_the_days(tmp_path: Path) -> None:
    with serve_anthropic(api_key=KEY, refusals=ALL_REQUESTS) as refusing:
        env = anthropic_env(tmp_path, refusing.base_url)
        refused = backfill(env, DAYS[0], DAYS[-1])
        assert refusing.message_requests > 0
    assert refused.returncode == 1, refused.stdout[-2000:] + refused.stderr[-3000:]
    assert "Traceback" not in refused.stderr
    held = [line.strip() for line in refused.stderr.splitlines() if line.strip().startswith(DAYS)]
    assert [line.split(" ", 1)[0] for line in held] == list(DAYS)
    assert all(line.split(" ", 2)[1] == "held:" for line in held), held
    assert "3 day(s) not fully published: the same command retries them" in refused.stderr
    wh = open_warehouse(env["KPI_WAREHOUSE_URL"])
    assert_every_asked_metric_was_unread(wh, held)
    assert wh.scalar("SELECT count(*) FROM kpi.fct_metric_daily") == 0  # an unread answer is never a value

    with serve_anthropic(api_key=KEY) as healthy:
        again = backfill(env | {"ANTHROPIC_BASE_URL": healthy.base_url}, DAYS[0], DAYS[-1])
        assert healthy.message_requests > 0  # the refusals were not kept as answers in the response cache
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    assert "nothing to do" not in again.stdout and "skipping" not in again.stdout
    assert "3/3 days published" in again.stdout
    published = wh.query_df("SELECT DISTINCT day FROM kpi.fct_metric_daily")
    assert sorted(str(d)[:10] for d in published["day"]) == list(DAYS)
