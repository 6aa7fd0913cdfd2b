"""A local Anthropic Messages API that answers extraction prompts with the offline extractor, with fault knobs.

It lets the real anthropic SDK (and `AnthropicBackend`) run end to end without a key or network:
POST /v1/messages (structured output: the JSON text of `ExtractionResponse`), POST
/v1/messages/count_tokens, and Message Batches (create, retrieve, results as JSONL). Usage is counted with
`prompts.count_tokens` per content block; as the real prompt cache bills it, the longest prefix through a
`cache_control` block (the prompt marks up to four) that was sent before is a cache read, and the rest
through the last such block a cache write.

Faults (`Faults`): latency, 429 above an RPM limit or on demand (with `retry-after`; with an RPM limit every
messages response carries the API's `anthropic-ratelimit-requests-*` headers), a burst of 529s,
malformed JSON, truncated output (stop_reason max_tokens), refusals, errored and expired batch items, a
400 above the context window, 404 for a model name the SDK does not list, 401 for a wrong key, and
`obey_injections`: answers that follow instructions planted in the sources (`testing.obedient`).

    python -m kpi_pipeline.testing.anthropic_server --port 8090 [--latency 0.5] [--rpm 50] [--api-key KEY]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import threading
import time
import typing
import uuid
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from anthropic.types import ModelParam
from pydantic import ValidationError

from kpi_pipeline.catalog import Catalog
from kpi_pipeline.extraction.offline import extract_answers
from kpi_pipeline.extraction.prompts import CHARS_PER_TOKEN, PromptFormatError, count_tokens, parse_request
from kpi_pipeline.extraction.schema import ExtractionResponse
from kpi_pipeline.testing.obedient import obey

KNOWN_MODELS = frozenset(typing.get_args(typing.get_args(ModelParam)[0]))
_BATCH = re.compile(r"^/v1/messages/batches/(?P<id>[A-Za-z0-9_]+)(?P<results>/results)?$")
_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
REFUSAL_EXPLANATION = "The local test server was told to refuse this request."


@dataclass
class Faults:
    """How the server misbehaves. Counters (`overloaded`, `malformed`, ...) are used up one request at a time."""

    latency_s: float = 0.0
    rpm: int | None = None  # 429 for requests beyond this many in the trailing minute
    rate_limited: int = 0  # the next N messages requests answer 429
    retry_after_s: float = 1.0  # `retry-after` sent with on-demand 429s
    overloaded: int = 0  # the next N messages requests answer 529 overloaded_error
    malformed: int = 0  # the next N outputs are not valid JSON
    truncated: int = 0  # the next N outputs stop at max_tokens half-way
    refusals: int = 0  # the next N outputs are refusals
    batch_errored: int = 0  # the next N batch items are errored (api_error)
    batch_expired: int = 0  # the next N batch items are expired
    batch_polls_in_progress: int = 1  # retrieves that report a new batch as still in progress
    context_window_tokens: int = 200_000  # 400 invalid_request_error above this many input tokens
    obey_injections: bool = False  # answer the value a source dictates, quoting it, reporting no injection


@dataclass
class _Batch:
    id: str
    created_at: datetime
    results: list[dict[str, Any]]
    polls: int = 0
    ended_at: datetime | None = None


@dataclass
class ApiError(Exception):
    """An error response: HTTP status, Anthropic error type and message, extra headers."""

    status: int
    type: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {"type": self.type, "message": self.message},
            "request_id": f"req_{uuid.uuid4().hex[:24]}",
        }


def _block_texts(blocks: Any) -> list[tuple[str, bool]]:
    """(text, has cache_control) of each text block of a `system` or message `content` value."""
    if isinstance(blocks, str):
        return [(blocks, False)]
    if not isinstance(blocks, list):
        return []
    return [
        (str(b.get("text", "")), bool(b.get("cache_control")))
        for b in blocks
        if isinstance(b, Mapping) and b.get("type") == "text"
    ]


def _prompt_blocks(body: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """Every text block in prompt order (system, then messages), as the prompt cache sees them."""
    blocks = _block_texts(body.get("system"))
    for message in body.get("messages") or []:
        if isinstance(message, Mapping):
            blocks += _block_texts(message.get("content"))
    return blocks


class AnthropicServer:
    """The server's state: faults, the prompt cache, batches, a count of requests by route, the bodies received."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, api_key: str | None = None, faults: Faults | None = None
    ) -> None:
        self.api_key = api_key
        self.faults = faults or Faults()
        self.requests: Counter[str] = Counter()
        self.bodies: list[bytes] = []  # every request body as received, to check what left the client
        self.in_flight = 0
        self.max_in_flight = 0  # most requests being answered at once: shows that clients overlap calls
        self._lock = threading.Lock()
        self._cached_prefixes: set[str] = set()
        self._recent: deque[float] = deque()
        self._batches: dict[str, _Batch] = {}
        self._http = ThreadingHTTPServer((host, port), _handler_for(self))
        self._http.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def message_requests(self) -> int:
        """POST /v1/messages requests received, whatever their answer."""
        return self.requests["POST /v1/messages"]

    @contextmanager
    def answering(self, route: str) -> Iterator[None]:
        """Count a request by route and track how many are in flight."""
        with self._lock:
            self.requests[route] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, name="anthropic-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def serve_forever(self) -> None:
        self._http.serve_forever()

    # -- faults and limits --------------------------------------------------------------------------------

    def _take(self, fault: str) -> bool:
        """Use up one occurrence of a counted fault."""
        with self._lock:
            left = getattr(self.faults, fault)
            if left > 0:
                setattr(self.faults, fault, left - 1)
                return True
            return False

    def _check_rate(self) -> None:
        if self._take("rate_limited"):
            raise ApiError(
                429, "rate_limit_error", "rate limited (injected)", {"retry-after": f"{self.faults.retry_after_s:g}"}
            )
        rpm = self.faults.rpm
        if not rpm:
            return
        with self._lock:
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= 60:
                self._recent.popleft()
            if len(self._recent) >= rpm:
                wait = max(1, math.ceil(60 - (now - self._recent[0])))
                raise ApiError(
                    429,
                    "rate_limit_error",
                    f"more than {rpm} requests per minute",
                    {"retry-after": str(wait), **self._rate_headers(now)},
                )
            self._recent.append(now)

    def rate_limit_headers(self) -> dict[str, str]:
        """The `anthropic-ratelimit-requests-*` headers as the API sends them with every messages response:
        the limit, what is left of it, and when it is fully replenished (RFC 3339). None without an RPM limit."""
        with self._lock:
            return self._rate_headers(time.monotonic())

    def _rate_headers(self, now: float) -> dict[str, str]:
        rpm = self.faults.rpm
        if not rpm:
            return {}
        window = [t for t in self._recent if now - t < 60]
        replenished_in_s = 60 - (now - window[-1]) if window else 0.0
        reset = datetime.now(UTC) + timedelta(seconds=replenished_in_s)
        reset = reset.replace(microsecond=0) + timedelta(seconds=1 if reset.microsecond else 0)  # whole seconds, late
        return {
            "anthropic-ratelimit-requests-limit": str(rpm),
            "anthropic-ratelimit-requests-remaining": str(max(0, rpm - len(window))),
            "anthropic-ratelimit-requests-reset": reset.isoformat(timespec="seconds").replace("+00:00", "Z"),
        }

    def check_key(self, headers: Mapping[str, str]) -> None:
        if self.api_key is None:
            return
        bearer = headers.get("authorization", "")
        sent = headers.get("x-api-key") or (bearer[len("Bearer ") :] if bearer.startswith("Bearer ") else None)
        if sent != self.api_key:
            raise ApiError(401, "authentication_error", "invalid x-api-key")

    # -- messages -----------------------------------------------------------------------------------------

    def _check_model(self, body: Mapping[str, Any]) -> str:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise ApiError(400, "invalid_request_error", "model: Field required")
        if model not in KNOWN_MODELS:
            raise ApiError(404, "not_found_error", f"model: {model}")
        return model

    def _check_context_window(self, body: Mapping[str, Any]) -> None:
        total = sum(count_tokens(text) for text, _ in _prompt_blocks(body))
        if total > self.faults.context_window_tokens:
            raise ApiError(
                400,
                "invalid_request_error",
                f"prompt is too long: {total} tokens > {self.faults.context_window_tokens} maximum",
            )

    def _usage(self, model: str, body: Mapping[str, Any], output_tokens: int) -> dict[str, int]:
        """input / cache write / cache read tokens, as the prompt cache bills them: the longest prefix through a
        `cache_control` block seen before is read, the rest through the last such block written, the remainder
        plain input."""
        blocks = _prompt_blocks(body)
        counts = [count_tokens(text) for text, _ in blocks]
        marks = [i for i, (_, cached) in enumerate(blocks) if cached]
        keys = [
            hashlib.sha256(json.dumps([model, [t for t, _ in blocks[: i + 1]]]).encode()).hexdigest() for i in marks
        ]
        prefix_tokens = sum(counts[: marks[-1] + 1]) if marks else 0
        with self._lock:
            read = max(
                (sum(counts[: i + 1]) for i, key in zip(marks, keys, strict=True) if key in self._cached_prefixes),
                default=0,
            )
            self._cached_prefixes.update(keys)
        return {
            "input_tokens": sum(counts) - prefix_tokens,
            "cache_creation_input_tokens": prefix_tokens - read,
            "cache_read_input_tokens": read,
            "output_tokens": output_tokens,
        }

    def answer(self, body: Mapping[str, Any], *, batch: bool = False) -> dict[str, Any]:
        """The Message for one create-message body, or ApiError."""
        model = self._check_model(body)
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise ApiError(400, "invalid_request_error", "max_tokens: must be a positive integer")
        if body.get("tools"):
            return self._tool_answer(model, body)
        output_format = (body.get("output_config") or {}).get("format") or {}
        if output_format.get("type") != "json_schema":
            raise ApiError(400, "invalid_request_error", "this server answers structured-output requests only")
        self._check_context_window(body)
        try:
            request, metrics = parse_request(body.get("messages") or [])
            answers = extract_answers(request, Catalog(metrics=tuple(metrics)))
            if self.faults.obey_injections:
                answers = obey(request, metrics, answers)
        except (PromptFormatError, ValidationError) as exc:
            raise ApiError(400, "invalid_request_error", f"not an extraction prompt: {exc}") from None
        text = ExtractionResponse(answers=answers).model_dump_json()
        stop_reason, stop_details = "end_turn", None
        if self._take("refusals"):
            text, stop_reason = "", "refusal"
            stop_details = {"type": "refusal", "category": None, "explanation": REFUSAL_EXPLANATION}
        elif self._take("malformed"):
            text = text[: len(text) // 2] + " <- the model lost its place"
        elif self._take("truncated"):
            text, stop_reason = text[: len(text) // 2], "max_tokens"
        if stop_reason == "end_turn" and count_tokens(text) > max_tokens:
            text, stop_reason = text[: max_tokens * CHARS_PER_TOKEN], "max_tokens"
        output_tokens = max_tokens if stop_reason == "max_tokens" else count_tokens(text)
        usage = self._usage(model, body, output_tokens)
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}] if text else [],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "stop_details": stop_details,
            "usage": {
                **usage,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": usage["cache_creation_input_tokens"],
                    "ephemeral_1h_input_tokens": 0,
                },
                "service_tier": "batch" if batch else "standard",
            },
        }

    def _tool_answer(self, model: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A scripted tool user: the first turn calls a tool, the turn with its result answers citing it."""
        messages = [m for m in body.get("messages") or [] if isinstance(m, Mapping)]
        tools = {str(t.get("name")) for t in body.get("tools") or [] if isinstance(t, Mapping)}
        last = messages[-1].get("content") if messages else None
        results = [b for b in last or [] if isinstance(b, Mapping) and b.get("type") == "tool_result"]
        if results and isinstance(last, list):
            content: list[dict[str, Any]] = [{"type": "text", "text": scripted_tool_answer(results[-1])}]
            stop_reason = "end_turn"
        else:
            name, arguments = scripted_tool_call(str(last if isinstance(last, str) else _texts(last)), tools)
            content = [{"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": name, "input": arguments}]
            stop_reason = "tool_use"
        extra = count_tokens(json.dumps([body.get("tools"), messages], default=str))
        usage = self._usage(model, body, count_tokens(json.dumps(content)))
        usage["input_tokens"] += extra
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "stop_details": None,
            "usage": {
                **usage,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": usage["cache_creation_input_tokens"],
                    "ephemeral_1h_input_tokens": 0,
                },
                "service_tier": "standard",
            },
        }

    def create_message(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._check_rate()
        if self._take("overloaded"):
            raise ApiError(529, "overloaded_error", "Overloaded (injected)")
        return self.answer(body)

    def count(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._check_model(body)
        return {"input_tokens": sum(count_tokens(text) for text, _ in _prompt_blocks(body))}

    # -- batches ------------------------------------------------------------------------------------------

    def _batch_item(self, item: Mapping[str, Any]) -> dict[str, Any]:
        custom_id = item["custom_id"]
        if self._take("batch_errored"):
            error = ApiError(500, "api_error", "Internal server error (injected)")
            return {"custom_id": custom_id, "result": {"type": "errored", "error": error.body()}}
        if self._take("batch_expired"):
            return {"custom_id": custom_id, "result": {"type": "expired"}}
        try:
            message = self.answer(item.get("params") or {}, batch=True)
        except ApiError as error:
            return {"custom_id": custom_id, "result": {"type": "errored", "error": error.body()}}
        return {"custom_id": custom_id, "result": {"type": "succeeded", "message": message}}

    def create_batch(self, body: Mapping[str, Any]) -> dict[str, Any]:
        items = body.get("requests")
        if not isinstance(items, list) or not items:
            raise ApiError(400, "invalid_request_error", "requests: must be a non-empty list")
        ids = [item.get("custom_id") if isinstance(item, Mapping) else None for item in items]
        if any(not isinstance(i, str) or not _CUSTOM_ID.match(i) for i in ids) or len(set(ids)) != len(ids):
            raise ApiError(
                400, "invalid_request_error", "requests: custom_id must be unique and match ^[a-zA-Z0-9_-]{1,64}$"
            )
        batch = _Batch(
            id=f"msgbatch_{uuid.uuid4().hex[:24]}",
            created_at=datetime.now(UTC),
            results=[self._batch_item(item) for item in items],
        )
        with self._lock:
            self._batches[batch.id] = batch
        return self._batch_json(batch)

    def _find_batch(self, batch_id: str) -> _Batch:
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None:
            raise ApiError(404, "not_found_error", f"message batch {batch_id} not found")
        return batch

    def retrieve_batch(self, batch_id: str) -> dict[str, Any]:
        batch = self._find_batch(batch_id)
        with self._lock:
            batch.polls += 1
            if batch.ended_at is None and batch.polls > self.faults.batch_polls_in_progress:
                batch.ended_at = datetime.now(UTC)
        return self._batch_json(batch)

    def batch_results(self, batch_id: str) -> str:
        batch = self._find_batch(batch_id)
        if batch.ended_at is None:
            raise ApiError(400, "invalid_request_error", f"message batch {batch_id} is still in progress")
        return "".join(json.dumps(line) + "\n" for line in batch.results)

    def _batch_json(self, batch: _Batch) -> dict[str, Any]:
        ended = batch.ended_at is not None
        kinds = Counter(line["result"]["type"] for line in batch.results)
        counts = {k: kinds[k] if ended else 0 for k in ("succeeded", "errored", "canceled", "expired")}
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": {**counts, "processing": 0 if ended else len(batch.results)},
            "created_at": batch.created_at.isoformat(),
            "expires_at": (batch.created_at + timedelta(hours=24)).isoformat(),
            "ended_at": batch.ended_at.isoformat() if batch.ended_at else None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{self.base_url}/v1/messages/batches/{batch.id}/results" if ended else None,
        }


_SCRIPTED_SQL = re.compile(r"SQL:\s*(?P<sql>.+)$", re.DOTALL)
_EVIDENCE_QUESTION = re.compile(
    r"\b(?P<metric>[a-z][a-z0-9]*(?:_[a-z0-9]+)+)\b.*?\b(?P<day>\d{4}-\d{2}-\d{2})\b", re.DOTALL
)


def _texts(blocks: Any) -> str:
    return " ".join(text for text, _ in _block_texts(blocks))


def scripted_tool_call(question: str, tools: set[str]) -> tuple[str, dict[str, Any]]:
    """The tool the scripted model calls first: the SQL after "SQL:" in the question, else the evidence of
    the metric id and day it names, else the latest published values."""
    if (m := _SCRIPTED_SQL.search(question)) and "run_sql" in tools:
        return "run_sql", {"query": m["sql"].strip()}
    if (m := _EVIDENCE_QUESTION.search(question)) and "get_evidence" in tools:
        return "get_evidence", {"metric_id": m["metric"], "day": m["day"]}
    query = "SELECT metric_id, day, value FROM kpi.fct_metric_daily ORDER BY day DESC, metric_id LIMIT 5"
    return "run_sql", {"query": query}


def scripted_tool_answer(result: Mapping[str, Any]) -> str:
    """The scripted model's answer from a tool result: the first value it shows with its (metric, day) and
    quote, or "not in the data" when the tool refused or found nothing."""
    raw = result.get("content")
    text = raw if isinstance(raw, str) else _texts(raw)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = {}
    if result.get("is_error") or not isinstance(data, dict) or "error" in data:
        why = data.get("error") if isinstance(data, dict) else None
        return f"not in the data: the tool refused the query ({why or text})"
    if "published" in data:
        if not data["published"] or not data.get("quotes"):
            return f"not in the data: no published value of {data.get('metric_id')} on {data.get('day')}"
        metric, day, quote = data["metric_id"], data["day"], data["quotes"][0]["quote"]
        return f'{metric} on {day} was {data["value"]} [{metric}, {day}: "{quote}"]'
    rows = [dict(zip(data.get("columns") or [], row, strict=False)) for row in data.get("rows") or []]
    if not rows:
        return "not in the data: the query found no rows"
    metric, day = rows[0].get("metric_id"), rows[0].get("day")
    return f"{metric} on {day} was {rows[0].get('value')} [{metric}, {day}]"


def _handler_for(server: AnthropicServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests count requests instead
            return

        def _send(self, status: int, payload: str, content_type: str, headers: Mapping[str, str] | None = None) -> None:
            data = payload.encode("utf-8")
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", f"req_{uuid.uuid4().hex[:24]}")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            server.bodies.append(raw)
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError as exc:
                raise ApiError(400, "invalid_request_error", f"body is not JSON: {exc}") from None
            if not isinstance(body, dict):
                raise ApiError(400, "invalid_request_error", "body must be a JSON object")
            return body

        def _serve(self, method: str) -> None:
            path = self.path.split("?", 1)[0]
            batch_route = _BATCH.match(path)
            route = f"{method} {path}" if not batch_route else f"{method} /v1/messages/batches/{{id}}"
            if batch_route and batch_route["results"]:
                route += "/results"
            with server.answering(route):
                self._answer(method, route, path, batch_route)

        def _answer(self, method: str, route: str, path: str, batch_route: re.Match[str] | None) -> None:
            try:
                body = self._body() if method == "POST" else {}
                if server.faults.latency_s:
                    time.sleep(server.faults.latency_s)
                server.check_key({k.lower(): v for k, v in self.headers.items()})
                if route == "POST /v1/messages":
                    message = server.create_message(body)
                    self._send(200, json.dumps(message), "application/json", server.rate_limit_headers())
                elif route == "POST /v1/messages/count_tokens":
                    self._send(200, json.dumps(server.count(body)), "application/json")
                elif route == "POST /v1/messages/batches":
                    self._send(200, json.dumps(server.create_batch(body)), "application/json")
                elif batch_route and method == "GET" and batch_route["results"]:
                    self._send(200, server.batch_results(batch_route["id"]), "application/binary")
                elif batch_route and method == "GET":
                    self._send(200, json.dumps(server.retrieve_batch(batch_route["id"])), "application/json")
                else:
                    raise ApiError(404, "not_found_error", f"no route {method} {path}")
            except ApiError as error:
                self._send(error.status, json.dumps(error.body()), "application/json", error.headers)
            except Exception as exc:  # a bug answering must reach the client as a 500, not a dropped connection
                failure = ApiError(500, "api_error", f"test server failed: {type(exc).__name__}: {exc}")
                self._send(500, json.dumps(failure.body()), "application/json")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_GET(self) -> None:
            self._serve("GET")

    return Handler


@contextmanager
def serve_anthropic(api_key: str | None = "test-key", **faults: Any) -> Iterator[AnthropicServer]:
    """An in-process server on a free port for the duration of the block; `faults` are `Faults` fields."""
    server = AnthropicServer(api_key=api_key, faults=Faults(**faults))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Anthropic Messages API answering with the offline extractor")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--rpm", type=int, default=None, help="answer 429 beyond this many requests a minute")
    parser.add_argument("--api-key", default=None, help="require this key (default: accept any)")
    args = parser.parse_args(argv)
    server = AnthropicServer(
        args.host, args.port, api_key=args.api_key, faults=Faults(latency_s=args.latency, rpm=args.rpm)
    )
    print(f"Anthropic-compatible server on {server.base_url} (set ANTHROPIC_BASE_URL to it)", flush=True)
    with suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
