"""Claude's answer is shown only when each of its numbers is one the tools returned (or the question wrote)."""

from __future__ import annotations

import json

from kpi_pipeline.ask.numbers import numbers_in, unsupported_numbers

EVIDENCE = json.dumps(
    {"metric_id": "p95_latency_ms", "day": "2026-07-03", "value": 1110000.0, "quotes": [{"quote": "p95 is 4.5%"}]}
)


def test_days_and_names_with_digits_are_not_numbers() -> None:
    assert numbers_in("p95_latency_ms on 2026-07-03, KR1 of v2: 350 ms") == {350.0}


def test_grouped_thousands_are_one_number() -> None:
    assert numbers_in("MRR was 1,110,000 usd and 12,700 users") == {1110000.0, 12700.0}


def test_an_answer_made_of_returned_numbers_passes() -> None:
    answer = 'p95_latency_ms on 2026-07-03 was 1,110,000 [p95_latency_ms, 2026-07-03: "p95 is 4.5%"]'
    assert unsupported_numbers(answer, [EVIDENCE]) == []


def test_a_number_no_tool_returned_is_reported() -> None:
    answer = "p95_latency_ms was 1110000 on 2026-07-03, up 12.5% from 2026-07-01"
    assert unsupported_numbers(answer, [EVIDENCE]) == [12.5]


def test_numbers_of_the_question_may_be_repeated() -> None:
    assert unsupported_numbers("the top 3 metrics: none moved", ["which 3 metrics moved most?"]) == []
