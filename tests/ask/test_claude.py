"""The anthropic backend's tool loop, end to end through the real SDK (strict response validation) against
the local Anthropic server, on the demo quarter: tool_use, tool_result, a cited answer, a recorded cost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import anthropic
import pytest

from kpi_pipeline.ask.answer import NOT_IN_DATA
from kpi_pipeline.ask.claude import AskError, answer_with_claude
from kpi_pipeline.ask.reader import KpiReader
from kpi_pipeline.ask.run import Claude, ask_question
from kpi_pipeline.extraction.cost import load_prices
from kpi_pipeline.extraction.llm_config import DEFAULT_MODEL, LlmConfigError
from kpi_pipeline.extraction.schema import LlmUsage
from kpi_pipeline.testing.anthropic_server import AnthropicServer, serve_anthropic
from kpi_pipeline.warehouse import open_warehouse

KEY = "sk-ant-local"
TODAY = date(2026, 10, 1)


@pytest.fixture
def server() -> Iterator[AnthropicServer]:
    with serve_anthropic(api_key=KEY) as running:
        yield running


@pytest.fixture
def claude(server: AnthropicServer) -> Claude:
    client = anthropic.Anthropic(api_key=KEY, base_url=server.base_url, max_retries=0, _strict_response_validation=True)
    return Claude(client, DEFAULT_MODEL)


def logged(demo: Any, ask_id: str | None) -> dict[str, Any]:
    rows = open_warehouse(demo.url).query_df("SELECT * FROM extract.ask_log").to_dict("records")
    (row,) = [r for r in rows if r["ask_id"] == ask_id]
    return {str(k): v for k, v in row.items()}


def test_the_tool_loop_answers_with_the_published_value_and_its_quote(
    demo: Any, server: AnthropicServer, claude: Claude
) -> None:
    fact = demo.data.series("api_error_rate")[3]
    question = f"What was api_error_rate on {fact.day}?"
    asked = ask_question(question, demo.url, today=TODAY, claude=claude)
    answer, ask_id = asked.answer, asked.ask_id
    assert answer.answered and asked.not_recorded is None
    assert answer.text == (
        f'api_error_rate on {fact.day} was {fact.value} [api_error_rate, {fact.day}: "{fact.quotes[0].text}"]'
    )
    assert server.message_requests == 2  # the tool_use turn, then the answer to its tool_result
    second = json.loads(server.bodies[-1])
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "user"]
    (result,) = second["messages"][2]["content"]
    assert result["type"] == "tool_result" and result["is_error"] is False
    row = logged(demo, ask_id)
    assert (row["backend"], row["model"], row["turns"], row["answered"]) == ("anthropic", DEFAULT_MODEL, 2, True)
    assert row["question"] == question and row["answer"] == answer.text and row["stop_reason"] == "end_turn"
    assert json.loads(row["tool_calls"]) == [
        {"name": "get_evidence", "input": {"metric_id": "api_error_rate", "day": str(fact.day)}, "is_error": False}
    ]
    tokens = ["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens"]
    usage = LlmUsage(*(int(row[k]) for k in tokens))
    assert usage.input_tokens > 0 and usage.output_tokens > 0
    assert row["cost_usd"] == pytest.approx(load_prices().cost_usd(DEFAULT_MODEL, usage))


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT text FROM raw.slack_messages",
        "DELETE FROM kpi.fct_metric_daily",
        "SELECT * FROM read_csv('/etc/passwd')",
    ],
)
def test_sql_the_tool_refuses_reaches_the_model_as_an_error_and_ends_not_in_the_data(
    demo: Any, claude: Claude, sql: str
) -> None:
    before = len(demo.data.facts)
    answer, conversation = answer_with_claude(
        claude.client, claude.model, f"SQL: {sql}", KpiReader(demo.url), load_prices()
    )
    assert not answer.answered and answer.text.startswith(f"{NOT_IN_DATA}: the tool refused")
    assert conversation.tool_calls == [{"name": "run_sql", "input": {"query": sql}, "is_error": True}]
    published = open_warehouse(demo.url).scalar("SELECT count(*) FROM kpi.fct_metric_daily")
    assert published == before


def test_a_day_without_a_published_value_is_not_in_the_data(demo: Any, claude: Claude) -> None:
    answer, conversation = answer_with_claude(
        claude.client, claude.model, "What was api_error_rate on 2026-11-15?", KpiReader(demo.url), load_prices()
    )
    assert answer.text == f"{NOT_IN_DATA}: no published value of api_error_rate on 2026-11-15"
    assert not answer.answered and conversation.turns == 2


def test_a_loop_that_does_not_finish_within_its_turns_gives_no_answer(demo: Any, claude: Claude) -> None:
    answer, conversation = answer_with_claude(
        claude.client, claude.model, "latest values?", KpiReader(demo.url), load_prices(), max_turns=1
    )
    assert not answer.answered and "did not finish within 1 turn(s)" in answer.text
    assert conversation.turns == 1 and conversation.stop_reason == "tool_use"


def test_a_refused_key_or_unknown_model_is_one_line_naming_the_setting(demo: Any, server: AnthropicServer) -> None:
    wrong_key = anthropic.Anthropic(api_key="sk-wrong", base_url=server.base_url, max_retries=0)
    with pytest.raises(LlmConfigError, match=r"rejected the key \(401.*check ANTHROPIC_API_KEY"):
        answer_with_claude(wrong_key, DEFAULT_MODEL, "latest values?", KpiReader(demo.url), load_prices())
    client = anthropic.Anthropic(api_key=KEY, base_url=server.base_url, max_retries=0)
    with pytest.raises(LlmConfigError, match=r"does not know model 'claude-none'.*KPI_LLM_MODEL"):
        answer_with_claude(client, "claude-none", "latest values?", KpiReader(demo.url), load_prices())


def test_an_api_outage_is_one_line_and_no_answer(demo: Any) -> None:
    with serve_anthropic(api_key=KEY, overloaded=1) as server:
        client = anthropic.Anthropic(api_key=KEY, base_url=server.base_url, max_retries=0)
        with pytest.raises(AskError, match=r"the Anthropic API did not answer .*try again later"):
            answer_with_claude(client, DEFAULT_MODEL, "latest values?", KpiReader(demo.url), load_prices())
