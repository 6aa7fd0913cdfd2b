"""Acceptance: private data planted in a demo day's Slack, Jira and docs text never reaches the (local) Anthropic
API when the daily Dagster job extracts with the anthropic SDK; the day's values are still published, grounded in
the redacted text, as from the clean day; the original text stays in raw.* only. With KPI_REDACT=false the same
text goes verbatim."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kpi_pipeline.demo import generate_dataset
from kpi_pipeline.testing.anthropic_server import serve_anthropic
from kpi_pipeline.warehouse import open_warehouse
from tests.assets.test_extract_anthropic import FACTS_SQL, KEY, definitions_under, materialize, pipeline_env

DAY = "2026-07-31"  # the demo day with readings from the status doc, Slack and Jira
SLACK_SUFFIX = (
    " (contact maria.lopez@brightloop.io or +1 415 555 0134, SSN 219-09-9999;"
    " token xoxb-20261234567-2026987654-CanaryCanary)"
)
JIRA_SUFFIX = " Ping ops.lead@customer.example or +44 20 7946 0958, key ghp_CanaryCanaryCanaryCanaryCanary012345."
SUMMARY_SUFFIX = " (from reporter@globex.example)"
DOCS_SUFFIX = " (ask finance@brightloop.io, (415) 555-0199)"
DOCS_PARAGRAPH = (
    "\n\nPayments: IBAN DE89 3704 0044 0532 0130 00, card 4111 1111 1111 1111, "
    "staging key sk-ant-api03-CanaryCanary-0123456789abcdef.\n"
)
CANARIES = {
    "slack": [
        "maria.lopez@brightloop.io",
        "+1 415 555 0134",
        "219-09-9999",
        "xoxb-20261234567-2026987654-CanaryCanary",
    ],
    "jira": [
        "ops.lead@customer.example",
        "+44 20 7946 0958",
        "ghp_CanaryCanaryCanaryCanaryCanary012345",
        "reporter@globex.example",
    ],
    "docs": [
        "finance@brightloop.io",
        "(415) 555-0199",
        "DE89 3704 0044 0532 0130 00",
        "4111 1111 1111 1111",
        "sk-ant-api03-CanaryCanary-0123456789abcdef",
    ],
}
ALL_CANARIES = [c for canaries in CANARIES.values() for c in canaries]
# the tables extraction and publishing write: none may hold the original text
DERIVED_TABLES = [
    "extract.metric_candidates",
    "extract.metric_values",
    "extract.llm_calls",
    "kpi.fct_metric_daily",
    "kpi.fct_metric_evidence",
    "kpi.metric_quarantine",
]
RAW_TEXT_SQL = {
    "slack": "SELECT text FROM raw.slack_messages",
    "jira": "SELECT summary AS text FROM raw.jira_issues UNION ALL SELECT body FROM raw.jira_events",
    "docs": "SELECT text FROM raw.docs",
}


def plant(dataset: Path) -> None:
    """Canaries in every Slack message of the day, every Jira comment and summary of the day, and the day's docs
    (next to each KPI line and in a paragraph of their own)."""
    for path in (dataset / "slack").glob(f"*/{DAY}.json"):
        messages = json.loads(path.read_text())
        for message in messages:
            if message.get("text"):
                message["text"] += SLACK_SUFFIX
        path.write_text(json.dumps(messages))
    for path in (dataset / "jira").glob("*.json"):
        page = json.loads(path.read_text())
        for issue in page["issues"]:
            fields = issue["fields"]
            if fields["created"].startswith(DAY):
                fields["summary"] += SUMMARY_SUFFIX
            for comment in (fields.get("comment") or {}).get("comments", []):
                if comment["created"].startswith(DAY):
                    comment["body"]["content"][0]["content"].append({"type": "text", "text": JIRA_SUFFIX})
        path.write_text(json.dumps(page))
    docs = [p for p in (dataset / "docs").rglob("*.md") if f"date: {DAY}" in p.read_text()]
    assert docs, "no doc of the day to plant in"
    for path in docs:
        lines = [line + DOCS_SUFFIX if "%" in line else line for line in path.read_text().splitlines()]
        path.write_text("\n".join(lines) + DOCS_PARAGRAPH)


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def received_text(bodies: list[bytes]) -> str:
    """Everything the server was sent: the raw bytes, and every JSON string in them decoded."""
    raw = b"\n".join(bodies).decode("utf-8")
    decoded = "\n".join(s for body in bodies if body for s in strings(json.loads(body)))
    return raw + "\n" + decoded


def table_text_of(url: str, sql: str) -> str:
    return str(open_warehouse(url).query_df(sql).to_csv(index=False))


def table_text(url: str, tables: list[str]) -> str:
    return "\n".join(table_text_of(url, f"SELECT * FROM {t}") for t in tables)


@dataclass(frozen=True)
class Runs:
    clean_facts: pd.DataFrame
    facts: pd.DataFrame
    received: str
    message_requests: int
    derived: str
    raw: dict[str, str]
    verbatim_received: str


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """The clean day offline; the planted day through the local server with redaction on (the default) and off."""
    tmp = tmp_path_factory.mktemp("redaction_anthropic")
    clean = generate_dataset(tmp / "clean", seed=7).out_dir
    planted = generate_dataset(tmp / "planted", seed=7).out_dir
    plant(planted)
    clean_url, redacted_url, verbatim_url = (f"duckdb:///{tmp / n}.duckdb" for n in ("clean", "redacted", "verbatim"))

    with definitions_under(pipeline_env(clean, clean_url, tmp / "cache_clean", KPI_LLM_BACKEND="offline")) as defs:
        assert materialize(defs, partition_key=DAY).success

    claude = {"KPI_LLM_BACKEND": "anthropic", "ANTHROPIC_API_KEY": KEY}
    with serve_anthropic(api_key=KEY) as server:
        env = pipeline_env(planted, redacted_url, tmp / "cache_redacted", **claude, ANTHROPIC_BASE_URL=server.base_url)
        with definitions_under(env) as defs:
            assert materialize(defs, partition_key=DAY).success
        received, message_requests = received_text(server.bodies), server.message_requests
    with serve_anthropic(api_key=KEY) as server:
        env = pipeline_env(planted, verbatim_url, tmp / "cache_verbatim", **claude, ANTHROPIC_BASE_URL=server.base_url)
        with definitions_under({**env, "KPI_REDACT": "false"}) as defs:
            assert materialize(defs, partition_key=DAY).success
        verbatim_received = received_text(server.bodies)

    return Runs(
        clean_facts=open_warehouse(clean_url).query_df(FACTS_SQL),
        facts=open_warehouse(redacted_url).query_df(FACTS_SQL),
        received=received,
        message_requests=message_requests,
        derived=table_text(redacted_url, DERIVED_TABLES),
        raw={kind: table_text_of(redacted_url, sql) for kind, sql in RAW_TEXT_SQL.items()},
        verbatim_received=verbatim_received,
    )


@pytest.mark.slow
def test_no_planted_private_value_reaches_the_anthropic_api(runs: Runs) -> None:
    assert runs.message_requests > 0
    assert [c for c in ALL_CANARIES if c in runs.received] == []
    for placeholder in ("[EMAIL_1]", "[PHONE_1]", "[ID_1]", "[SECRET_1]", "[IBAN_1]", "[CARD_1]"):
        assert placeholder in runs.received, f"{placeholder} never sent: the planted text did not reach the model"


@pytest.mark.slow
def test_the_days_values_are_published_from_the_redacted_text_as_from_the_clean_day(runs: Runs) -> None:
    assert len(runs.clean_facts) >= 8
    pd.testing.assert_frame_equal(runs.facts, runs.clean_facts)


@pytest.mark.slow
def test_the_original_text_stays_in_raw_tables_and_never_in_extract_or_kpi_tables(runs: Runs) -> None:
    for kind, canaries in CANARIES.items():
        assert [c for c in canaries if c not in runs.raw[kind]] == [], f"raw {kind} lost its original text"
    assert [c for c in ALL_CANARIES if c in runs.derived] == []
    assert "[EMAIL_1]" in runs.derived  # evidence quotes the redacted text the model saw


@pytest.mark.slow
def test_with_kpi_redact_false_the_text_goes_verbatim(runs: Runs) -> None:
    assert [c for c in ALL_CANARIES if c not in runs.verbatim_received] == []
    assert "[EMAIL_1]" not in runs.verbatim_received
