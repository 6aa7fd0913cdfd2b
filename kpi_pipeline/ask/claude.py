"""The anthropic backend of `ask`: Claude answers with tools over the warehouse, in a bounded tool loop.

Each turn is one `messages.create` with the tools; a `tool_use` turn is answered with the tools' results
and the loop goes on, up to `MAX_TURNS` model calls. A refusal, a truncated answer or a loop that does not
finish gives no answer at all (not a guess), and so does an answer stating a number no tool returned.
Tokens and cost are summed over every turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kpi_pipeline.ask.answer import NOT_IN_DATA, Answer, number
from kpi_pipeline.ask.numbers import unsupported_numbers
from kpi_pipeline.ask.reader import KpiReader
from kpi_pipeline.ask.tools import TOOLS, run_tool
from kpi_pipeline.extraction.cost import PriceTable
from kpi_pipeline.extraction.schema import LlmUsage

MAX_TURNS = 8
MAX_TOKENS = 2048
SYSTEM_PROMPT = f"""You answer questions about a company's published KPIs and OKRs, and only from them.
Use the tools: run_sql reads the kpi schema, get_evidence returns the quotes behind a value.
Rules:
- Every number in your answer cites the (metric_id, day) it comes from and a verbatim quote behind it, \
written as: 3.1 [api_error_rate, 2026-07-02: "error rate is 3.1% today"].
- Use only what the tools returned. Never estimate, extrapolate or fill a gap.
- When the data cannot answer (no such metric, no published value that day, a question about anything \
else), answer exactly "{NOT_IN_DATA}" and say what is missing.
- Write only numbers the tools returned; do not compute new ones (differences, percentages, averages): \
give the values, each cited, and let the reader compare.
- Values held back in kpi.metric_quarantine are not published: never give their numbers as facts."""


class AskError(RuntimeError):
    """The model could not be reached (outage, rate limit after retries); nothing was answered."""


@dataclass
class Conversation:
    """What one question cost and did: every tool call, the turns, tokens by kind, dollars."""

    model: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    turns: int = 0
    usage: LlmUsage = field(default_factory=LlmUsage)
    cost_usd: float = 0.0
    stop_reason: str | None = None


def answer_with_claude(
    client: Any, model: str, question: str, reader: KpiReader, prices: PriceTable, *, max_turns: int = MAX_TURNS
) -> tuple[Answer, Conversation]:
    conversation = Conversation(model)
    messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
    returned = [question]  # what the answer's numbers may come from
    while conversation.turns < max_turns:
        response = _create(client, model, messages)
        conversation.turns += 1
        _add_usage(conversation, response.usage, prices)
        conversation.stop_reason = response.stop_reason
        if response.stop_reason != "tool_use":
            return _final(response, returned), conversation
        messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in response.content]})
        results = []
        for block in response.content:
            if block.type != "tool_use":
                continue
            text, is_error = run_tool(reader, block.name, dict(block.input))
            returned.append(text)
            conversation.tool_calls.append({"name": block.name, "input": block.input, "is_error": is_error})
            results.append({"type": "tool_result", "tool_use_id": block.id, "content": text, "is_error": is_error})
        messages.append({"role": "user", "content": results})
    why = f"the model did not finish within {max_turns} turn(s), so there is no answer"
    return Answer(f"{NOT_IN_DATA}: {why}", False), conversation


def _create(client: Any, model: str, messages: list[dict[str, Any]]) -> Any:
    """One model turn; an API failure becomes one line: a setting to fix, or an outage to wait out."""
    import anthropic

    from kpi_pipeline.extraction.anthropic_backend import _fatal_error, _is_transient

    try:
        return client.messages.create(
            model=model, max_tokens=MAX_TOKENS, system=SYSTEM_PROMPT, tools=TOOLS, messages=messages
        )
    except (anthropic.APIStatusError, anthropic.APIConnectionError) as exc:
        if isinstance(exc, anthropic.APIStatusError) and not _is_transient(exc):
            raise _fatal_error(exc, model) from None
        raise AskError(f"the Anthropic API did not answer ({' '.join(str(exc).split())}): try again later") from None


def _final(response: Any, returned: list[str]) -> Answer:
    text = "\n".join(b.text for b in response.content if b.type == "text").strip()
    if response.stop_reason not in ("end_turn", "stop_sequence") or not text:
        return Answer(f"no answer: the model stopped with {response.stop_reason!r} before answering", False)
    unsupported = unsupported_numbers(text, returned)
    if unsupported:
        shown = ", ".join(number(n) for n in unsupported)
        return Answer(
            f"no answer: the model's answer states {shown}, which no tool returned; an answer is shown only when "
            "every number in it comes from the published data",
            False,
        )
    return Answer(text, not text.lower().startswith(NOT_IN_DATA))


def _add_usage(conversation: Conversation, usage: Any, prices: PriceTable) -> None:
    turn = LlmUsage(
        input_tokens=usage.input_tokens,
        cache_creation_input_tokens=usage.cache_creation_input_tokens or 0,
        cache_read_input_tokens=usage.cache_read_input_tokens or 0,
        output_tokens=usage.output_tokens,
    )
    total = conversation.usage
    conversation.usage = LlmUsage(
        total.input_tokens + turn.input_tokens,
        total.cache_creation_input_tokens + turn.cache_creation_input_tokens,
        total.cache_read_input_tokens + turn.cache_read_input_tokens,
        total.output_tokens + turn.output_tokens,
    )
    conversation.cost_usd += prices.cost_usd(conversation.model, turn)
