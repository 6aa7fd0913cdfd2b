"""One question end to end: read the published tables, answer with the chosen backend, record it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from kpi_pipeline.ask.answer import Answer
from kpi_pipeline.ask.claude import Conversation, answer_with_claude
from kpi_pipeline.ask.data import load_kpi_data
from kpi_pipeline.ask.log import RECORD_LOCK_TIMEOUT_S, record_answer
from kpi_pipeline.ask.names import as_catalog_metrics
from kpi_pipeline.ask.offline import answer_offline
from kpi_pipeline.ask.reader import KpiReader
from kpi_pipeline.extraction.cost import load_prices
from kpi_pipeline.warehouse import WarehouseError

OFFLINE_MODEL = "ask-offline-v1"


@dataclass(frozen=True)
class Asked:
    answer: Answer
    ask_id: str | None  # the extract.ask_log row, None when not recorded
    not_recorded: str | None = None  # why the question could not be recorded (the answer stands)


@dataclass(frozen=True)
class Claude:
    """What the anthropic backend needs: an SDK client and the model to ask."""

    client: Any
    model: str


def ask_question(
    question: str,
    url: str,
    *,
    today: date,
    claude: Claude | None = None,
    aliases: Mapping[str, Sequence[str]] | None = None,
    record: bool = True,
    lock_timeout_s: float = RECORD_LOCK_TIMEOUT_S,
) -> Asked:
    """The answer and where it was recorded. Reading never waits for the pipeline (DuckDB: the reader copy);
    recording does, up to `lock_timeout_s`, and a failure to record is reported, not hidden."""
    reader = KpiReader(url)
    if claude is None:
        data = load_kpi_data(reader)
        answer = answer_offline(question, data, as_catalog_metrics(data.metrics, aliases or {}), today)
        conversation, backend = Conversation(OFFLINE_MODEL), "offline"
    else:
        answer, conversation = answer_with_claude(claude.client, claude.model, question, reader, load_prices())
        backend = "anthropic"
    if not record:
        return Asked(answer, None)
    try:
        now = datetime.now(UTC)
        ask_id = record_answer(url, question, backend, answer, conversation, now, lock_timeout_s=lock_timeout_s)
    except WarehouseError as exc:
        return Asked(answer, None, str(exc))
    return Asked(answer, ask_id)
