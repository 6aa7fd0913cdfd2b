"""The weekly digest from published rows: what moved by how much, off track first, and the quotes behind it."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pandas as pd

from kpi_pipeline.insights.anomaly import LIKELY_EXTRACTION, Anomaly
from kpi_pipeline.insights.digest import Digest, DigestInputs, build_digest
from kpi_pipeline.insights.digest_text import MAX_BLOCKS, SECTION_LIMIT, digest_blocks, digest_markdown

MONDAY = date(2026, 7, 13)


def fact(metric_id: str, day: date, value: float, status: str = "ok") -> dict[str, object]:
    return {"metric_id": metric_id, "day": day, "value": value, "status": status, "model": "m", "prompt_version": "v"}


def quote(metric_id: str, day: date, text: str, url: str | None) -> dict[str, object]:
    return {"metric_id": metric_id, "day": day, "evidence_no": 1, "source_type": "slack", "source_id": "s",
            "url": url, "quote": text}  # fmt: skip


def progress(objective: str, no: int, metric_id: str, day: date, status: str, value: float) -> dict[str, object]:
    return {"objective_id": objective, "objective_title": objective.title(), "key_result_no": no,
            "metric_id": metric_id, "day": day, "value": value, "is_carried": False, "baseline": 5.0, "target": 1.0,
            "progress": 0.2, "expected_progress": 0.4, "status": status}  # fmt: skip


def inputs(**changes: object) -> DigestInputs:
    before, end = MONDAY - timedelta(days=2), MONDAY + timedelta(days=5)
    base = DigestInputs(
        facts=pd.DataFrame(
            [
                fact("errors", before, 4.0),
                fact("errors", MONDAY, 3.0),
                fact("errors", end, 2.0),
                fact("latency", before, 200.0),
                fact("latency", end, 320.0, "conflict"),
                fact("signups", before, 10.0),
                fact("signups", end, 11.0),
            ]
        ),
        evidence=pd.DataFrame(
            [
                quote("errors", end, "error rate is down to 2%", "https://x.slack.com/p1"),
                quote("latency", end, "p95 at 300ms", "javascript:alert(1)"),
            ]
        ),
        quarantine=pd.DataFrame(
            [
                {
                    "metric_id": "signups",
                    "day": MONDAY,
                    "value": 900.0,
                    "confidence": 0.9,
                    "reasons": json.dumps(["max_value: value 900 is above 100"]),
                    "evidence": json.dumps([{"quote": "900 signups!", "url": "https://jira.example.com/X-1"}]),
                }
            ]
        ),
        metrics=pd.DataFrame(
            [{"metric_id": m, "unit": u, "direction": "unknown"} for m, u in (("errors", "%"), ("latency", "ms"))]
        ),
        progress=pd.DataFrame(
            [
                progress("reliable", 1, "errors", MONDAY - timedelta(days=1), "at_risk", 4.0),
                progress("reliable", 1, "errors", end, "on_track", 2.0),
                progress("reliable", 2, "latency", MONDAY - timedelta(days=1), "on_track", 200.0),
                progress("reliable", 2, "latency", end, "off_track", 300.0),
                progress("calm", 1, "errors", end, "on_track", 2.0),
            ]
        ),
    )
    return DigestInputs(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_objectives_with_off_track_key_results_come_first_and_each_key_result_says_how_it_stands() -> None:
    digest = build_digest(inputs(), MONDAY)
    assert [(o.objective_id, o.status) for o in digest.objectives] == [("reliable", "off_track"), ("calm", "on_track")]
    first, second = digest.objectives[0].key_results
    assert (first.metric_id, first.status) == ("latency", "off_track")
    assert "off track, was on track before the week: progress 20% of the 40% expected" in first.text
    assert (second.metric_id, second.status) == ("errors", "on_track") and "was at risk" in second.text
    assert second.quote == "error rate is down to 2%" and second.url == "https://x.slack.com/p1"


def test_moves_compare_the_weeks_last_value_with_the_last_one_before_it_largest_first() -> None:
    digest = build_digest(inputs(), MONDAY)
    latency, errors = digest.objectives[0].moves
    assert latency.text == "latency 200 → 320 ms (+120, +60%) from 2026-07-11 to 2026-07-18"
    assert errors.text == "errors 4 → 2 % (-2, -50%) from 2026-07-11 to 2026-07-18"
    assert latency.url is None  # a javascript: link never reaches a digest
    (other,) = digest.other_moves  # signups is in no objective
    assert other.text.startswith("signups 10 → 11") and "+10%" in other.text


def test_conflicts_quarantine_restatements_and_anomalies_are_listed_with_their_quotes() -> None:
    end = MONDAY + timedelta(days=5)
    history = pd.DataFrame(
        [
            {"metric_id": "errors", "day": MONDAY, "value": 3.5, "valid_from": datetime(2026, 7, 13), "reason": None},
            {"metric_id": "errors", "day": MONDAY, "value": 3.0, "valid_from": datetime(2026, 7, 15, 8),
             "reason": "rerun with prompt v5"},
        ]
    )  # fmt: skip
    anomaly = Anomaly("errors", end, 2.0, 4.0, -5.2, LIKELY_EXTRACTION, "rests on one source type (slack)")
    digest = build_digest(inputs(history=history, anomalies=(anomaly,)), MONDAY)
    (conflict,) = digest.conflicts
    assert conflict.metric_id == "latency" and "most authoritative reading 320 was published" in conflict.text
    (held,) = digest.quarantined
    assert held.text == "signups on 2026-07-13: 900 held back: max_value: value 900 is above 100"
    assert (held.quote, held.url) == ("900 signups!", "https://jira.example.com/X-1")
    (restated,) = digest.restatements
    assert restated.text == "errors on 2026-07-13 restated 3.5 → 3 on 2026-07-15: rerun with prompt v5"
    (flagged,) = digest.anomalies
    assert (
        flagged.status == LIKELY_EXTRACTION
        and "(robust z -5.2), likely extraction: rests on one source" in flagged.text
    )
    assert flagged.quote == "error rate is down to 2%"


def test_the_digest_survives_its_json_and_renders_to_markdown_and_slack_blocks() -> None:
    digest = build_digest(inputs(), MONDAY, notes=["restatements are not shown: no history"])
    assert Digest.from_json(digest.to_json()) == digest
    text = digest_markdown(digest)
    assert text.index("## Reliable (off track)") < text.index("## Calm (on track)")
    assert "> error rate is down to 2% ([source](https://x.slack.com/p1))" in text
    blocks = digest_blocks(digest)
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "KPI digest, week of 2026-07-13 to 2026-07-19"},
    }
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert sections[0].startswith("*Reliable (off track)*\n• latency: off track")
    assert "<https://x.slack.com/p1|source>" in sections[0]
    assert blocks[-1]["elements"][0]["text"] == "restatements are not shown: no history"


def test_a_week_too_long_for_one_message_stays_within_slacks_limits_and_says_what_was_left_out() -> None:
    many = pd.DataFrame(
        [
            fact(f"metric_with_a_long_descriptive_name_number_{i:04d}", MONDAY - timedelta(days=1), 1.0)
            for i in range(1300)
        ]
        + [
            fact(f"metric_with_a_long_descriptive_name_number_{i:04d}", MONDAY + timedelta(days=1), 2.0 + i)
            for i in range(1300)
        ]
    )
    blocks = digest_blocks(build_digest(inputs(facts=many), MONDAY))
    assert len(blocks) == MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= SECTION_LIMIT for b in blocks if b["type"] == "section")
    assert "did not fit in one Slack message" in blocks[-1]["elements"][0]["text"]


def test_slack_control_characters_in_quotes_are_escaped() -> None:
    evidence = pd.DataFrame([quote("errors", MONDAY + timedelta(days=5), "<!channel> errors & more", None)])
    blocks = digest_blocks(build_digest(inputs(evidence=evidence), MONDAY))
    text = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert "&lt;!channel&gt; errors &amp; more" in text and "<!channel>" not in text


def test_a_week_with_nothing_published_says_so() -> None:
    empty = inputs(
        facts=inputs().facts.iloc[0:0], progress=inputs().progress.iloc[0:0], quarantine=inputs().quarantine.iloc[0:0]
    )
    digest = build_digest(empty, MONDAY)
    assert "Nothing was published this week." in digest_markdown(digest)


def test_large_values_read_as_whole_numbers_not_exponents() -> None:
    facts = pd.DataFrame([fact("users", MONDAY - timedelta(days=1), 11843.0), fact("users", MONDAY, 16020.0)])
    (move,) = build_digest(inputs(facts=facts), MONDAY).other_moves
    assert move.text == "users 11,843 → 16,020 (+4,177, +35%) from 2026-07-12 to 2026-07-13"


def test_a_small_relative_move_keeps_its_digits() -> None:
    facts = pd.DataFrame([fact("uptime", MONDAY - timedelta(days=1), 99.91), fact("uptime", MONDAY, 99.88)])
    (move,) = build_digest(inputs(facts=facts), MONDAY).other_moves
    assert move.text == "uptime 99.91 → 99.88 (-0.03, -0.03%) from 2026-07-12 to 2026-07-13"
