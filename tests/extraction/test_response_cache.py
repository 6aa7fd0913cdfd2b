"""The response cache: one metric's answer per key, as whole files even under concurrent writers."""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from kpi_pipeline.catalog import parse_catalog
from kpi_pipeline.extraction.response_cache import ResponseCache
from kpi_pipeline.extraction.schema import Evidence, ExtractionRequest, MetricAnswer, SourceDoc

KEY = hashlib.sha256(b"request").hexdigest()
MODEL = "claude-sonnet-5-5"
CATALOG = parse_catalog(
    {
        "metrics": [
            {"id": "api_error_rate", "description": "Failed API requests, in percent", "unit": "percent"},
            {"id": "signups", "description": "New accounts that day", "unit": "count"},
        ]
    }
)
REQUEST = ExtractionRequest(
    date(2026, 7, 1),
    "slack",
    ("api_error_rate", "signups"),
    (SourceDoc("slack", "slack:C1:1.0", "error rate 3.2%", datetime(2026, 7, 1, 9, tzinfo=UTC)),),
)


def response(value: float, filler: str = "") -> MetricAnswer:
    return MetricAnswer(
        metric_id="api_error_rate",
        value=value,
        confidence=0.9,
        evidence=[Evidence(source_id="slack:C1:1.0", quote=f"error rate {value}%")],
        reasoning="stated" + filler,
    )


def test_a_stored_response_comes_back_equal(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "llm_cache")
    cache.put(KEY, response(3.2), model="claude-sonnet-5-5", prompt_version="v1")
    assert cache.get(KEY) == response(3.2)
    assert (tmp_path / "llm_cache" / KEY[:2] / f"{KEY}.json").is_file()


def test_an_unknown_key_is_a_miss(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    cache.put(KEY, response(3.2), model="m", prompt_version="v1")
    assert cache.get(hashlib.sha256(b"other").hexdigest()) is None


def test_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    for value in (1.0, 2.0, 3.0):
        cache.put(KEY, response(value), model="m", prompt_version="v1")
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [f"{KEY}.json"]
    assert cache.get(KEY) == response(3.0)


def test_an_unreadable_entry_is_a_miss_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = ResponseCache(tmp_path)
    cache.put(KEY, response(3.2), model="m", prompt_version="v1")
    (tmp_path / KEY[:2] / f"{KEY}.json").write_text('{"answer": {"metric_id": ', "utf-8")
    with caplog.at_level(logging.WARNING):
        assert cache.get(KEY) is None
    assert "unreadable response cache entry" in caplog.text


def test_a_key_that_is_not_a_hash_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sha256"):
        ResponseCache(tmp_path).get("../../etc/passwd")


def test_concurrent_writers_never_expose_half_a_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = ResponseCache(tmp_path)
    big = "x" * 200_000  # large enough that a non-atomic write would be seen half done
    seen: list[MetricAnswer | None] = []
    stop = threading.Event()

    def write(value: float) -> None:
        for _ in range(20):
            cache.put(KEY, response(value, big), model="m", prompt_version="v1")

    def read() -> None:
        while not stop.is_set():
            seen.append(cache.get(KEY))

    readers = [threading.Thread(target=read) for _ in range(2)]
    writers = [threading.Thread(target=write, args=(float(v),)) for v in range(4)]
    caplog.set_level(logging.WARNING)
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    complete = [r for r in seen if r is not None]
    assert complete, "readers saw no entry at all"
    assert all(r.reasoning == "stated" + big for r in complete)
    assert "unreadable" not in caplog.text  # a half-written file would have been read as unreadable


def test_each_metric_of_a_request_is_stored_and_found_on_its_own(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    signups = MetricAnswer(metric_id="signups", value=None, confidence=0.0, reasoning="not stated")
    cache.store(MODEL, "v1", REQUEST, [CATALOG.metric("api_error_rate")], [response(3.2), signups])
    assert cache.answers(MODEL, "v1", REQUEST, CATALOG.metrics) == {"api_error_rate": response(3.2)}
    assert len(list(tmp_path.rglob("*.json"))) == 1  # signups was answered but not asked: not stored


def test_a_metric_asked_in_another_request_over_the_same_sources_is_found(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    cache.store(MODEL, "v1", REQUEST, [CATALOG.metric("api_error_rate")], [response(3.2)])
    alone = ExtractionRequest(REQUEST.day, REQUEST.source_type, ("api_error_rate",), REQUEST.sources)
    assert cache.answers(MODEL, "v1", alone, [CATALOG.metric("api_error_rate")]) == {"api_error_rate": response(3.2)}
    assert cache.answers("claude-haiku-5-5", "v1", alone, [CATALOG.metric("api_error_rate")]) == {}
    assert cache.answers(MODEL, "v2", alone, [CATALOG.metric("api_error_rate")]) == {}
