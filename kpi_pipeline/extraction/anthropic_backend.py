"""Claude as an extraction backend, through the anthropic SDK.

Structured outputs: every call sends `output_config.format` with the JSON schema the SDK derives from
`ExtractionResponse` (what `messages.parse(output_format=...)` sends) and parses the text only after
looking at `stop_reason`, because `messages.parse` validates inside the SDK and a truncated or refused
output would raise before the reason could be read. Truncated, refused or invalid output is never read
as a value: it is retried, then recorded as an `UnreadAnswer` with the reason (unread, not an abstention).

The SDK's own retries are disabled (`max_retries=0`) because it honours `retry-after` without a cap;
transient errors are retried here with exponential backoff, jitter and a capped `retry-after`. The rate
limiter reserves the input tokens the API counts (not cache reads, for current models) and reads every
response's `anthropic-ratelimit-*` headers (`ratelimit`).

Cost controls: the prompt caches the catalog and each day's sources (`prompts`), so a call pays plain input
only for its short question; each metric's answer is cached on its own (`response_cache`), so a request asks
only the metrics the cache cannot answer; a run over `batch_min_days` distinct days goes through one Message Batch
(half price); a `budget_usd` stops the run before the call that would exceed it.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Literal, TypeVar

import anthropic
from anthropic.types import Message, OutputConfigParam, Usage
from pydantic import ValidationError

from kpi_pipeline.catalog import Metric
from kpi_pipeline.extraction.cost import PriceTable, SpendGuard, expected_usage
from kpi_pipeline.extraction.llm_config import DEFAULT_BATCH_MIN_DAYS, LlmConfigError, uses_batch
from kpi_pipeline.extraction.prompts import (
    Prompt,
    PromptTokens,
    build_prompt,
    prompt_tokens,
    request_hash,
    split_metrics,
)
from kpi_pipeline.extraction.ratelimit import (
    RETRY_AFTER_CAP_S,
    RateLimiter,
    capped_wait_s,
    counted_input_tokens,
    parse_ratelimit_headers,
    retry_after_s,
)
from kpi_pipeline.extraction.response_cache import ResponseCache
from kpi_pipeline.extraction.schema import (
    PROMPT_VERSION,
    ExtractionRequest,
    ExtractionResponse,
    ExtractionResult,
    LlmUsage,
    MetricAnswer,
    unread_answer,
)

if TYPE_CHECKING:
    from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse
    from anthropic.types.messages.batch_create_params import Request as BatchRequest

    from kpi_pipeline.catalog import Catalog

DEFAULT_MAX_TOKENS = 4096
OUTPUT_CONFIG: OutputConfigParam = {
    "format": {"type": "json_schema", "schema": anthropic.transform_schema(ExtractionResponse)}
}

log = logging.getLogger(__name__)
T = TypeVar("T")


class LlmUnavailableError(RuntimeError):
    """The API kept failing with transient errors past the retry budget."""


def abstain(metric_id: str, reason: str) -> MetricAnswer:
    """No value was read, and why: an `UnreadAnswer` (distinct from 'not stated', which the model says)."""
    return unread_answer(metric_id, reason)


def validate_answers(
    response: ExtractionResponse, request: ExtractionRequest, metrics: Sequence[Metric]
) -> list[MetricAnswer]:
    """One answer per requested metric, in request order, with what the API does not enforce checked here."""
    known_sources = {s.source_id for s in request.sources}
    first_answer: dict[str, MetricAnswer] = {}
    for answer in response.answers:
        first_answer.setdefault(answer.metric_id, answer)
    checked = []
    for metric in metrics:
        found = first_answer.get(metric.id)
        if found is None:
            checked.append(abstain(metric.id, "the model gave no answer for this metric"))
        elif found.value is not None and not math.isfinite(found.value):
            checked.append(abstain(metric.id, f"the model gave a non-finite value {found.value}"))
        elif not 0 <= found.confidence <= 1:
            checked.append(abstain(metric.id, f"the model gave confidence {found.confidence} outside 0..1"))
        else:
            checked.append(_drop_unknown_evidence(found, known_sources))
    return checked


def _drop_unknown_evidence(answer: MetricAnswer, known_sources: set[str]) -> MetricAnswer:
    unknown = sorted({e.source_id for e in answer.evidence if e.source_id not in known_sources})
    if not unknown:
        return answer
    note = f" [evidence citing unknown source ids dropped: {', '.join(unknown)}]"
    return answer.model_copy(
        update={
            "evidence": [e for e in answer.evidence if e.source_id in known_sources],
            "reasoning": answer.reasoning + note,
        }
    )


def billed(usage: Usage) -> LlmUsage:
    """What a response billed, by kind (the API leaves cache counts null when there are none)."""
    return LlmUsage(
        input_tokens=usage.input_tokens,
        cache_creation_input_tokens=usage.cache_creation_input_tokens or 0,
        cache_read_input_tokens=usage.cache_read_input_tokens or 0,
        output_tokens=usage.output_tokens,
    )


def _add_usage(total: LlmUsage, usage: LlmUsage) -> LlmUsage:
    return LlmUsage(
        input_tokens=total.input_tokens + usage.input_tokens,
        cache_creation_input_tokens=total.cache_creation_input_tokens + usage.cache_creation_input_tokens,
        cache_read_input_tokens=total.cache_read_input_tokens + usage.cache_read_input_tokens,
        output_tokens=total.output_tokens + usage.output_tokens,
    )


@dataclass(frozen=True)
class _Outcome:
    """How one response turned out: `ok` carries the parsed output, the rest a reason."""

    kind: Literal["ok", "truncated", "refused", "invalid", "too_long"]
    response: ExtractionResponse | None = None
    detail: str = ""


def _interpret(message: Message) -> _Outcome:
    """Read the stop reason before the text: only a finished output is parsed as an answer."""
    if message.stop_reason == "max_tokens":
        return _Outcome("truncated")
    if message.stop_reason == "refusal":
        details = message.stop_details
        why = (details.explanation or details.category) if details else None
        return _Outcome("refused", detail=why or "no explanation given")
    if message.stop_reason == "model_context_window_exceeded":
        return _Outcome("too_long")
    texts = [block.text for block in message.content if block.type == "text"]
    if not texts:
        return _Outcome("invalid", detail="the response has no text block")
    try:
        return _Outcome("ok", response=ExtractionResponse.model_validate_json(texts[0]))
    except ValidationError as exc:
        return _Outcome("invalid", detail=f"{exc.error_count()} schema error(s), first: {exc.errors()[0]['msg']}")


def _is_transient(exc: Exception) -> bool:
    if isinstance(exc, anthropic.APIConnectionError):  # includes APITimeoutError
        return True
    return isinstance(exc, anthropic.APIStatusError) and (exc.status_code in (408, 409, 429) or exc.status_code >= 500)


def _fatal_error(exc: anthropic.APIStatusError, model: str) -> LlmConfigError:
    said = exc.api_message or str(exc)
    if isinstance(exc, anthropic.AuthenticationError):
        return LlmConfigError(f"Anthropic API rejected the key (401: {said}): check ANTHROPIC_API_KEY")
    if isinstance(exc, anthropic.PermissionDeniedError):
        return LlmConfigError(
            f"Anthropic API denied access (403: {said}): check that ANTHROPIC_API_KEY may use model {model!r} "
            "(KPI_LLM_MODEL)"
        )
    if isinstance(exc, anthropic.NotFoundError):
        return LlmConfigError(
            f"Anthropic API does not know model {model!r} (404: {said}): check KPI_LLM_MODEL; "
            "anthropic.types.ModelParam lists current model names"
        )
    if isinstance(exc, anthropic.BadRequestError):
        return LlmConfigError(f"Anthropic API rejected the request (400): {said}")
    return LlmConfigError(f"Anthropic API error {exc.status_code}: {said}")


@dataclass
class _Pending:
    """One request on its way through the sync or batch path: it asks only the metrics not in the cache."""

    request: ExtractionRequest
    metrics: list[Metric]  # every metric of the request, in request order
    asked: list[Metric]  # those the response cache could not answer
    cached: list[MetricAnswer]  # the cache's answers for the others
    key: str
    prompt: Prompt
    tokens: PromptTokens
    max_tokens: int
    usage: LlmUsage = field(default_factory=LlmUsage)
    truncations: int = 0
    invalid_outputs: int = 0
    stop_reason: str | None = None
    failure: str = ""

    def answers(self, new: Sequence[MetricAnswer]) -> list[MetricAnswer]:
        """The cached answers merged with `new` ones for the asked metrics, checked, in request order."""
        merged = ExtractionResponse(answers=[*self.cached, *new])
        return validate_answers(merged, self.request, self.metrics)

    def abstain(self, reason: str) -> list[MetricAnswer]:
        return self.answers([abstain(m.id, reason) for m in self.asked])


class AnthropicBackend:
    """Claude through the SDK: response cache, rate limiter, concurrent calls, batches for large runs."""

    name = "anthropic"

    def __init__(
        self,
        client: anthropic.Anthropic,
        model: str,
        prices: PriceTable,
        cache: ResponseCache | None,
        limiter: RateLimiter | None,
        *,
        max_concurrency: int = 4,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        retry_after_cap_s: float = RETRY_AFTER_CAP_S,
        backoff_base_s: float = 1.0,
        max_attempts: int = 6,
        invalid_output_retries: int = 1,
        batch_min_days: int | None = DEFAULT_BATCH_MIN_DAYS,
        batch_poll_initial_s: float = 10.0,
        batch_poll_max_s: float = 120.0,
        batch_timeout_s: float = 24 * 3600.0,
        batch_max_resubmits: int = 2,
        budget_usd: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        prices.price(model)  # an unpriced model fails now, naming prices.yaml, not after the first call
        # Our loop retries; SDK retries would multiply attempts and wait out an uncapped retry-after. The copy
        # is made only when needed: `with_options` does not carry `_strict_response_validation` over.
        self._client = client if client.max_retries == 0 else client.with_options(max_retries=0)
        self.model = model
        self.prices = prices
        self.cache = cache
        self._limiter = limiter
        self.max_concurrency = max(1, max_concurrency)
        self.max_tokens = max_tokens
        self.retry_after_cap_s = retry_after_cap_s
        self.backoff_base_s = backoff_base_s
        self.max_attempts = max(1, max_attempts)
        self.invalid_output_retries = invalid_output_retries
        self.batch_min_days = batch_min_days
        self.batch_poll_initial_s = batch_poll_initial_s
        self.batch_poll_max_s = batch_poll_max_s
        self.batch_timeout_s = batch_timeout_s
        self.batch_max_resubmits = batch_max_resubmits
        self.budget_usd = budget_usd
        self.spend = SpendGuard(budget_usd)  # cumulative over this backend's life: one run
        self._prefixes_sent: set[str] = set()
        self._prefix_lock = threading.Lock()
        self._sleep = sleep
        self._jitter = jitter
        self._jitter_lock = threading.Lock()

    # -- public -------------------------------------------------------------------------------------------

    def extract(
        self, requests: Sequence[ExtractionRequest], catalog: Catalog, *, batch: bool | None = None
    ) -> list[ExtractionResult]:
        """One result per request, in order. `batch=None` uses one Message Batch when the requests the cache
        cannot answer span `batch_min_days` distinct days. Raises BudgetExceeded before a call past `budget_usd`."""
        results: list[ExtractionResult | None] = [None] * len(requests)
        pending: dict[int, _Pending] = {}
        for index, request in enumerate(requests):
            metrics, _ = split_metrics(request, catalog.metrics)
            key = request_hash(self.model, PROMPT_VERSION, request, metrics)
            cached = self.cache.answers(self.model, PROMPT_VERSION, request, metrics) if self.cache else {}
            asked = [m for m in metrics if m.id not in cached]
            if not asked:
                answers = validate_answers(ExtractionResponse(answers=list(cached.values())), request, metrics)
                results[index] = self._result(answers, key, LlmUsage(), 0.0, cache_hit=True)
                continue
            prompt = build_prompt(request, asked, catalog.metrics)
            tokens = prompt_tokens(self.model, prompt)
            pending[index] = _Pending(
                request, metrics, asked, list(cached.values()), key, prompt, tokens, self.max_tokens
            )
        use_batch = (
            batch if batch is not None else uses_batch((p.request.day for p in pending.values()), self.batch_min_days)
        )
        if use_batch and pending:
            for index, result in self._extract_batch(pending).items():
                results[index] = result
        elif pending:
            for index, result in self._extract_concurrently(pending).items():
                results[index] = result
        return [r for r in results if r is not None]

    def _extract_concurrently(self, pending: dict[int, _Pending]) -> dict[int, ExtractionResult]:
        """Concurrent calls in three waves: one call (it writes the catalog prefix every call shares), the first
        request of each other sources prefix, then the others. The API's prompt cache can be read only once the
        response that writes it has begun, so a call racing the first of its prefix would pay the cache write
        again instead of reading it."""
        leaders: dict[str, int] = {}
        for index, item in pending.items():
            leaders.setdefault(item.tokens.prefix_key, index)
        first = sorted(leaders.values())
        led = set(first)
        waves = [first[:1], first[1:], [index for index in pending if index not in led]]
        done: dict[int, ExtractionResult] = {}
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(pending))) as pool:
            for wave in waves:
                futures = {index: pool.submit(self._extract_one, pending[index]) for index in wave}
                try:
                    for index, future in futures.items():
                        done[index] = future.result()
                except BaseException:
                    pool.shutdown(cancel_futures=True)  # a fatal error stops the calls not yet started
                    raise
        return done

    # -- shared -------------------------------------------------------------------------------------------

    def _result(
        self,
        answers: list[MetricAnswer],
        key: str,
        usage: LlmUsage,
        started: float,
        *,
        cache_hit: bool = False,
        batch: bool = False,
        stop_reason: str | None = None,
        asked: Sequence[Metric] = (),
    ) -> ExtractionResult:
        return ExtractionResult(
            answers=answers,
            model=self.model,
            backend=self.name,
            prompt_version=PROMPT_VERSION,
            request_hash=key,
            usage=usage,
            cost_usd=0.0 if cache_hit else self.prices.cost_usd(self.model, usage, batch=batch),
            latency_ms=0.0 if cache_hit else (time.monotonic() - started) * 1000,
            response_cache_hit=cache_hit,
            batch=batch,
            stop_reason=stop_reason,
            asked_metric_ids=tuple(m.id for m in asked),
        )

    def _expected_usage(self, item: _Pending) -> LlmUsage:
        """What sending `item` is expected to bill: each cached prefix (catalog, then catalog and sources) is a
        cache write the first time this run sends it and a cache read afterwards."""
        with self._prefix_lock:
            read, written = item.tokens.cache_split(self._prefixes_sent)
            self._prefixes_sent.update(key for key, _ in item.tokens.prefixes)
        return expected_usage(item.tokens.question, len(item.asked), cache_read=read, cache_write=written)

    def _estimate_usd(self, item: _Pending, *, batch: bool) -> float:
        return self.prices.cost_usd(self.model, self._expected_usage(item), batch=batch)

    def _counted(self, usage: LlmUsage) -> int:
        """The input tokens of `usage` that the API counts against the per-minute limit."""
        return counted_input_tokens(
            self.model,
            uncached=usage.input_tokens,
            cache_write=usage.cache_creation_input_tokens,
            cache_read=usage.cache_read_input_tokens,
        )

    def _observe(self, headers: Mapping[str, str]) -> None:
        """Let the limiter adapt to what the server says is left of each limit."""
        if self._limiter:
            pause = self._limiter.observe(parse_ratelimit_headers(headers, datetime.now(UTC)), self.retry_after_cap_s)
            if pause:
                log.info("an Anthropic rate limit is exhausted; calls wait %.1fs for its reset", pause)

    def _settle(self, item: _Pending, message: Message) -> list[MetricAnswer] | None:
        """Answers when this response settles the request, None when it should be asked again."""
        item.usage = _add_usage(item.usage, billed(message.usage))
        item.stop_reason = message.stop_reason
        outcome = _interpret(message)
        if outcome.kind == "ok" and outcome.response is not None:
            if self.cache:
                self.cache.store(self.model, PROMPT_VERSION, item.request, item.asked, outcome.response.answers)
            return item.answers(outcome.response.answers)
        if outcome.kind == "truncated" and item.truncations == 0:
            item.truncations += 1
            item.max_tokens *= 2
            return None
        if outcome.kind == "invalid" and item.invalid_outputs < self.invalid_output_retries:
            item.invalid_outputs += 1
            return None
        reason = {
            "truncated": f"output truncated at max_tokens={item.max_tokens} after a retry with more tokens",
            "refused": f"the model refused: {outcome.detail}",
            "too_long": "the prompt exceeds the model's context window; select fewer sources",
            "invalid": f"output did not match the answer schema after a retry ({outcome.detail})",
        }[outcome.kind]
        return item.abstain(reason)

    def _backoff_s(self, attempt: int, exc: Exception) -> float:
        retry_after = retry_after_s(exc.response.headers) if isinstance(exc, anthropic.APIStatusError) else None
        if retry_after is not None and retry_after >= 0:
            return capped_wait_s(retry_after, self.retry_after_cap_s)
        with self._jitter_lock:
            jitter = self._jitter()
        return min(self.retry_after_cap_s, self.backoff_base_s * 2 ** (attempt - 1)) * (0.5 + jitter / 2)

    def _call(self, send: Callable[[], T], input_tokens: int) -> T:
        """`send()` under the rate limiter, retrying transient errors; fatal ones raise LlmConfigError."""
        for attempt in range(1, self.max_attempts + 1):
            if self._limiter:
                self._limiter.acquire(input_tokens)
            try:
                return send()
            except (anthropic.APIStatusError, anthropic.APIConnectionError) as exc:
                if isinstance(exc, anthropic.APIStatusError):
                    self._observe(exc.response.headers)
                if isinstance(exc, anthropic.RateLimitError) and self._limiter:
                    self._limiter.settle(input_tokens, 0)  # a request refused by a limit counts no tokens
                if not _is_transient(exc):
                    assert isinstance(exc, anthropic.APIStatusError)
                    raise _fatal_error(exc, self.model) from exc
                if attempt == self.max_attempts:
                    raise LlmUnavailableError(
                        f"Anthropic API still failing after {self.max_attempts} attempts ({exc}); retry the run later"
                    ) from exc
                wait = self._backoff_s(attempt, exc)
                log.info("transient Anthropic error (%s); retry %d in %.1fs", type(exc).__name__, attempt, wait)
                self._sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises")

    # -- one request at a time ----------------------------------------------------------------------------

    def _extract_one(self, item: _Pending) -> ExtractionResult:
        started = time.monotonic()
        while True:
            expected = self._expected_usage(item)
            reserved = self.spend.reserve(self.prices.cost_usd(self.model, expected))
            reserved_tokens = self._counted(expected)
            try:
                raw = self._call(
                    lambda: self._client.messages.with_raw_response.create(
                        model=self.model,
                        max_tokens=item.max_tokens,
                        system=item.prompt.system,
                        messages=item.prompt.messages,
                        output_config=OUTPUT_CONFIG,
                    ),
                    reserved_tokens,
                )
                self._observe(raw.headers)
                message = raw.parse()
            except BaseException:
                self.spend.settle(reserved, 0.0, calls=0)
                raise
            if self._limiter:
                self._limiter.settle(reserved_tokens, self._counted(billed(message.usage)))
            self.spend.settle(reserved, self.prices.cost_usd(self.model, billed(message.usage)))
            answers = self._settle(item, message)
            if answers is not None:
                return self._result(
                    answers, item.key, item.usage, started, stop_reason=item.stop_reason, asked=item.asked
                )

    # -- Message Batches ----------------------------------------------------------------------------------

    def _batch_request(self, custom_id: str, item: _Pending) -> BatchRequest:
        return {
            "custom_id": custom_id,
            "params": {
                "model": self.model,
                "max_tokens": item.max_tokens,
                "system": item.prompt.system,
                "messages": item.prompt.messages,
                "output_config": OUTPUT_CONFIG,
            },
        }

    def _wait_for_batch(self, batch: MessageBatch) -> MessageBatch:
        delay, waited = self.batch_poll_initial_s, 0.0
        while batch.processing_status != "ended":
            if waited >= self.batch_timeout_s:
                raise LlmUnavailableError(
                    f"message batch {batch.id} still {batch.processing_status} after {waited:.0f}s; "
                    "collect or cancel it in the Anthropic console, then rerun"
                )
            self._sleep(delay)
            waited += delay
            delay = min(delay * 2, self.batch_poll_max_s)
            batch = self._call(partial(self._client.messages.batches.retrieve, batch.id), 0)
        return batch

    def _batch_results(self, batch_id: str) -> list[MessageBatchIndividualResponse]:
        return list(self._client.messages.batches.results(batch_id))

    def _extract_batch(self, pending: dict[int, _Pending]) -> dict[int, ExtractionResult]:
        """One batch; errored, expired or unfinished items are resubmitted a bounded number of times."""
        started = time.monotonic()
        waiting = {f"req-{index}": index for index in pending}
        settled: dict[int, list[MetricAnswer]] = {}
        for _round in range(1 + self.batch_max_resubmits):
            if not waiting:
                break
            submit = [self._batch_request(cid, pending[index]) for cid, index in waiting.items()]
            estimate = sum(self._estimate_usd(pending[index], batch=True) for index in waiting.values())
            reserved = self.spend.reserve(estimate, f"a message batch of {len(submit)} requests")
            billed_usd = 0.0
            try:
                batch = self._call(partial(self._client.messages.batches.create, requests=submit), 0)
                log.info("submitted message batch %s with %d requests", batch.id, len(submit))
                batch_id = self._wait_for_batch(batch).id
                lines = self._call(partial(self._batch_results, batch_id), 0)
                billed_usd = sum(
                    self.prices.cost_usd(self.model, billed(line.result.message.usage), batch=True)
                    for line in lines
                    if line.result.type == "succeeded"
                )
            finally:
                self.spend.settle(reserved, billed_usd, calls=len(submit))
            unanswered = dict(waiting)
            for line in lines:
                index = unanswered.pop(line.custom_id, None)
                if index is None:
                    continue
                item, result = pending[index], line.result
                if result.type == "succeeded":
                    answers = self._settle(item, result.message)
                    if answers is None:
                        item.failure = f"asked again (stop_reason {item.stop_reason})"
                    else:
                        settled[index] = answers
                elif result.type == "errored":
                    error = result.error.error
                    item.failure = f"errored ({error.type}: {error.message})"
                    if error.type == "invalid_request_error":  # resubmitting the same request cannot help
                        settled[index] = item.abstain(f"batch item {item.failure}")
                else:
                    item.failure = result.type
            for index in unanswered.values():
                pending[index].failure = "missing from the batch results"
            waiting = {cid: index for cid, index in waiting.items() if index not in settled}
        for index in waiting.values():
            item = pending[index]
            reason = f"batch item {item.failure} after {1 + self.batch_max_resubmits} submissions"
            settled[index] = item.abstain(reason)
        return {
            index: self._result(
                answers,
                pending[index].key,
                pending[index].usage,
                started,
                batch=True,
                stop_reason=pending[index].stop_reason,
                asked=pending[index].asked,
            )
            for index, answers in settled.items()
        }
