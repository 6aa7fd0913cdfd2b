"""The offline backend answers the documented question shapes on the demo quarter: each number is the
published value, and each carries its (metric, day) and the first quote published behind it."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import duckdb
import pytest

from kpi_pipeline.ask.answer import NOT_IN_DATA, Answer
from kpi_pipeline.ask.offline import answer_offline
from kpi_pipeline.ask.reader import duckdb_read_path
from kpi_pipeline.warehouse import open_warehouse
from kpi_pipeline.warehouse.duckdb_engine import DuckDBWarehouse

TODAY = date(2026, 10, 1)  # the day after the demo quarter: "last week" is 2026-09-21..27


def ask(demo: Any, question: str) -> Answer:
    return answer_offline(question, demo.data, demo.metrics, TODAY)


def sql(demo: Any, query: str, *params: object) -> list[tuple[Any, ...]]:
    """The published tables read directly, independently of ask."""
    wh = open_warehouse(demo.url)
    assert isinstance(wh, DuckDBWarehouse)
    with duckdb.connect(str(duckdb_read_path(wh)), read_only=True) as con:
        return con.execute(query, list(params)).fetchall()


def first_quote(demo: Any, metric_id: str, day: date) -> str:
    (row,) = sql(
        demo,
        "SELECT quote FROM kpi.fct_metric_evidence WHERE metric_id = ? AND day = ? AND evidence_no = 1",
        metric_id,
        day,
    )
    return str(row[0])


def published(demo: Any, metric_id: str, first: date, last: date) -> list[tuple[date, float]]:
    q = "SELECT day, value FROM kpi.fct_metric_daily WHERE metric_id = ? AND day BETWEEN ? AND ? ORDER BY day"
    return [(d, float(v)) for d, v in sql(demo, q, metric_id, first, last)]


def assert_cites(demo: Any, answer: Answer, expected: list[tuple[str, date, float]]) -> None:
    """The answer cites exactly these (metric, day, value) in order, each with its first published quote,
    and writes each citation into its text."""
    assert answer.answered, answer.text
    assert [(c.metric_id, c.day, c.value) for c in answer.citations] == expected
    for c in answer.citations:
        assert c.quote == first_quote(demo, c.metric_id, c.day)
        assert f"[{c.metric_id}, {c.day}" in answer.text and f'"{c.quote}"' in answer.text


def a_published_day(demo: Any, metric_id: str) -> tuple[date, float]:
    days = published(demo, metric_id, date(2026, 7, 1), date(2026, 9, 30))
    return days[len(days) // 2]


def test_the_value_of_a_metric_on_a_day_named_by_alias(demo: Any) -> None:
    day, value = a_published_day(demo, "api_error_rate")
    answer = ask(demo, f"What was the error rate on {day}?")
    assert answer.shape == "value_on"
    assert_cites(demo, answer, [("api_error_rate", day, value)])


def test_a_day_written_in_words_and_a_metric_by_id(demo: Any) -> None:
    day, value = a_published_day(demo, "p95_latency_ms")
    answer = ask(demo, f"p95_latency_ms on {day:%B} {day.day}")
    assert_cites(demo, answer, [("p95_latency_ms", day, value)])


def test_yesterday_is_the_day_before_today(demo: Any) -> None:
    ((value,),) = sql(
        demo, "SELECT value FROM kpi.fct_metric_daily WHERE metric_id = 'api_error_rate' AND day = ?", date(2026, 9, 30)
    )
    assert_cites(demo, ask(demo, "What was the error rate yesterday?"), [("api_error_rate", date(2026, 9, 30), value)])


def test_the_latest_value(demo: Any) -> None:
    ((day, value),) = sql(
        demo, "SELECT day, value FROM kpi.fct_metric_daily WHERE metric_id = 'mrr_usd' ORDER BY day DESC LIMIT 1"
    )
    answer = ask(demo, "What is the latest MRR?")
    assert answer.shape == "latest"
    assert_cites(demo, answer, [("mrr_usd", day, value)])


def test_the_trend_over_a_month(demo: Any) -> None:
    series = published(demo, "weekly_active_users", date(2026, 7, 1), date(2026, 7, 31))
    answer = ask(demo, "What was the trend of weekly active users in July?")
    assert answer.shape == "trend"
    low = min(series, key=lambda s: (s[1], s[0]))
    high = max(series, key=lambda s: (s[1], -s[0].toordinal()))
    expected = [series[0], series[-1], low, high]
    assert_cites(demo, answer, [("weekly_active_users", d, v) for d, v in expected])
    assert f"{len(series)} published value(s)" in answer.text
    change = series[-1][1] - series[0][1]
    assert f"change first to last: {'+' if change > 0 else ''}{change:g}" in answer.text


def test_key_results_at_risk_as_of_the_last_day(demo: Any) -> None:
    rows = sql(
        demo,
        """SELECT objective_id, key_result_no, metric_id FROM kpi.okr_progress
           WHERE day = (SELECT max(day) FROM kpi.okr_progress) AND status IN ('at_risk', 'off_track')
           ORDER BY objective_id, key_result_no""",
    )
    answer = ask(demo, "Which key results are off track or at risk?")
    assert answer.shape == "off_track" and rows
    assert sorted((line.split()[1], line.split()[2][2:]) for line in answer.text.splitlines()[1:]) == sorted(
        (o, str(n)) for o, n, _ in rows
    )
    assert {c.metric_id for c in answer.citations} == {m for _, _, m in rows}
    for c in answer.citations:  # each key result cites the value it is judged on
        assert c.quote == first_quote(demo, c.metric_id, c.day)


def test_the_progress_of_an_objective_named_by_its_title(demo: Any) -> None:
    answer = ask(demo, "How is 'Make the public API boringly reliable' doing?")
    assert answer.shape == "objective_progress"
    (line1, *krs) = answer.text.splitlines()
    assert line1.startswith("reliable_api")
    assert [kr.split()[3].rstrip(":") for kr in krs] == ["api_error_rate", "p95_latency_ms", "uptime_percent"]
    assert {c.metric_id for c in answer.citations} == {"api_error_rate", "p95_latency_ms", "uptime_percent"}


def test_what_moved_most_last_week(demo: Any) -> None:
    moves = []
    for (metric_id,) in sql(demo, "SELECT metric_id FROM kpi.dim_metric"):
        series = published(demo, metric_id, date(2026, 9, 21), date(2026, 9, 27))
        if len(series) >= 2 and series[0][1]:
            moves.append((abs(series[-1][1] - series[0][1]) / abs(series[0][1]), metric_id, series[0], series[-1]))
    moves.sort(key=lambda m: (-m[0], m[1]))
    answer = ask(demo, "What moved most last week?")
    assert answer.shape == "moved_most" and "2026-09-21..2026-09-27" in answer.text
    expected = [(m, d, v) for _, m, first, last in moves[:3] for d, v in (first, last)]
    assert_cites(demo, answer, expected)


def test_why_a_metric_changed_between_two_days_quotes_both(demo: Any) -> None:
    series = published(demo, "api_error_rate", date(2026, 7, 1), date(2026, 9, 30))
    (d1, v1), (d2, v2) = series[0], series[-1]
    answer = ask(demo, f"Why did api error rate change between {d1} and {d2}?")
    assert answer.shape == "why_changed"
    assert_cites(demo, answer, [("api_error_rate", d1, v1), ("api_error_rate", d2, v2)])
    assert f"Behind {d1}: " in answer.text and f"Behind {d2}: " in answer.text


def test_conflicts_in_a_quarter(demo: Any) -> None:
    rows = sql(
        demo, "SELECT metric_id, day, value FROM kpi.fct_metric_daily WHERE status = 'conflict' ORDER BY day, metric_id"
    )
    answer = ask(demo, "Which metrics had conflicts in 2026-Q3?")
    assert answer.shape == "conflicts" and rows
    assert_cites(demo, answer, [(m, d, float(v)) for m, d, v in rows])


def test_quarantined_values_give_their_reasons_and_no_number(demo: Any) -> None:
    rows = sql(
        demo,
        "SELECT metric_id, day, reasons FROM kpi.metric_quarantine WHERE day BETWEEN '2026-08-01' AND '2026-08-31'",
    )
    answer = ask(demo, "What was quarantined in August?")
    assert answer.shape == "held_back" and rows
    for metric_id, day, reasons in rows:
        rules = ", ".join(r.split(":", 1)[0] for r in json.loads(reasons))
        assert f"- {metric_id} on {day}: {rules}\n" in answer.text
    held = [line.split(": ", 1)[1] for line in answer.text.splitlines() if line.startswith("- ")]
    assert len(held) == len(rows) and not any(ch.isdigit() for ch in "".join(held))  # no held-back number shown
    assert answer.citations == []


def test_where_a_value_came_from_lists_every_quote_and_link(demo: Any) -> None:
    day, value = a_published_day(demo, "open_p1_bugs")
    quotes = sql(
        demo,
        "SELECT quote, url FROM kpi.fct_metric_evidence WHERE metric_id = 'open_p1_bugs' AND day = ? ORDER BY 1",
        day,
    )
    answer = ask(demo, f"Where did open P1 bugs on {day} come from?")
    assert answer.shape == "source"
    assert_cites(demo, answer, [("open_p1_bugs", day, value)])
    for quote, url in quotes:
        assert f'"{quote}"' in answer.text and (url is None or f"<{url}>" in answer.text)


def test_compare_two_metrics_on_a_day(demo: Any) -> None:
    both = sql(
        demo,
        """SELECT a.day, a.value, b.value FROM kpi.fct_metric_daily a JOIN kpi.fct_metric_daily b ON a.day = b.day
           WHERE a.metric_id = 'api_error_rate' AND b.metric_id = 'deploys_per_day' ORDER BY a.day LIMIT 1""",
    )
    ((day, error_rate, deploys),) = both
    answer = ask(demo, f"Compare error rate vs deploys on {day}")
    assert answer.shape == "compare"
    assert_cites(demo, answer, [("api_error_rate", day, error_rate), ("deploys_per_day", day, deploys)])


@pytest.mark.parametrize(
    ("question", "why"),
    [
        ("What is our stock price?", "names no published metric"),
        ("What was the error rate on 2026-11-15?", "no published value of api_error_rate on 2026-11-15"),
        ("Why did MRR change between 2026-07-02 and 2026-07-03?", "no published value of mrr_usd"),
    ],
)
def test_what_the_data_cannot_answer_is_not_in_the_data(demo: Any, question: str, why: str) -> None:
    answer = ask(demo, question)
    assert not answer.answered and answer.citations == []
    assert answer.text.startswith(f"{NOT_IN_DATA}: ") and why in answer.text


def test_a_held_back_value_is_not_in_the_data_and_says_why(demo: Any) -> None:
    ((metric_id, day, reasons),) = sql(demo, "SELECT metric_id, day, reasons FROM kpi.metric_quarantine LIMIT 1")
    answer = ask(demo, f"{metric_id} on {day}")
    assert not answer.answered and "held it back" in answer.text and reasons.split(":")[0].strip('["') in answer.text
