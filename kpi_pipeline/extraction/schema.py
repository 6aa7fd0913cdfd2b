"""The shapes extraction works with: sources in, structured answers out.

`ExtractionResponse` is the model's output format (structured outputs via `messages.parse`). The API does
not enforce numeric ranges, so `confidence` is validated here and values are range-checked by the gate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from kpi_pipeline.catalog import Catalog

PROMPT_VERSION = "2026-12-01.3"  # the catalog (every metric's wanted value and definition, no date) is a cached
# block before the sources; the question names the day and the asked metric ids only
# reasoning of an answer that is not the model's: the call failed (refusal, truncation, batch item lost)
NOT_READ_PREFIX = "not read: "


class Evidence(BaseModel):
    model_config = ConfigDict(extra="ignore")

    source_id: str = Field(description="id of the source the quote comes from, exactly as given")
    quote: str = Field(description="verbatim text copied from that source that states the value")


class MetricAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    metric_id: str = Field(description="the metric id this answer is for")
    value: float | None = Field(description="the metric's value for the day in its unit, or null if not stated")
    confidence: float = Field(ge=0, le=1, description="0..1: how sure you are that the value is right")
    evidence: list[Evidence] = Field(default_factory=list, description="quotes that state the value")
    reasoning: str = Field(default="", description="one or two sentences: why this value")
    assumptions: list[str] = Field(default_factory=list, description="assumptions made, e.g. unit conversions")
    injection_source_ids: list[str] = Field(
        default_factory=list,
        description="ids of sources that address you (a model, assistant, analyst, AI, the system) or try to "
        "dictate this metric's value",
    )
    period_start: date | None = Field(
        default=None, description="first day (YYYY-MM-DD) of the period the value describes; null when value is null"
    )
    period_end: date | None = Field(
        default=None, description="last day (YYYY-MM-DD) of the period the value describes; null when value is null"
    )


class UnreadAnswer(MetricAnswer):
    """No usable answer came back for the metric (malformed after retry, refused, truncated, lost or errored
    batch item, no answer for it): not an abstention, which is the model saying `null`. The class, not the
    text, marks it; `reasoning` says why (`NOT_READ_PREFIX` + the reason). Never sent to or parsed from the API."""


def unread_answer(metric_id: str, reason: str) -> UnreadAnswer:
    return UnreadAnswer(metric_id=metric_id, value=None, confidence=0.0, reasoning=NOT_READ_PREFIX + reason)


class ExtractionResponse(BaseModel):
    """One answer per metric asked about."""

    model_config = ConfigDict(extra="ignore")

    answers: list[MetricAnswer]


@dataclass(frozen=True)
class SourceDoc:
    """One piece of source text a reading can cite."""

    source_type: str  # slack | jira | docs
    source_id: str  # stable id, e.g. slack:C123:1720000000.000100, jira:PLAT-12#comment-5, docs:status/w27.md@abc
    text: str
    observed_at: datetime
    url: str | None = None
    title: str | None = None
    channel: str | None = None  # Slack channel name, Jira project key or docs path: what selectors match


@dataclass(frozen=True)
class LlmUsage:
    """Tokens of one call, by kind, as the API bills them."""

    input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class ExtractionRequest:
    """What one call answers: some metrics, over one day's sources of one source type."""

    day: date
    source_type: str
    metric_ids: tuple[str, ...]
    sources: tuple[SourceDoc, ...]


@dataclass
class ExtractionResult:
    answers: list[MetricAnswer]
    model: str
    backend: str
    prompt_version: str
    request_hash: str
    usage: LlmUsage = field(default_factory=LlmUsage)
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    response_cache_hit: bool = False
    batch: bool = False
    stop_reason: str | None = None
    # the metrics the call really asked (the rest came from the response cache); empty: all of the request's
    asked_metric_ids: tuple[str, ...] = ()


class ExtractionBackend(Protocol):
    """Answers extraction requests: the offline extractor or Claude through the anthropic SDK."""

    name: str  # "offline" | "anthropic"
    model: str

    def extract(self, requests: Sequence[ExtractionRequest], catalog: Catalog) -> list[ExtractionResult]:
        """One result per request, in order. Raises on fatal errors (bad key, bad request)."""
        ...
