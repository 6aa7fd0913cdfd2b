"""The attack corpus (attack_corpus/*.yaml), one attack a day beside an honest source that states the true value:
no injected value is ever published, through the offline backend or through the anthropic backend against a
local server that obeys every instruction it reads; the honest value is published on every attack day.

The layers are also proven alone: the detector flags every planted text and no honest one; with screening off
(the obeying model reads the attacks and answers the dictated values) grounding and the gate still publish none.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import anthropic
import pandas as pd
import pytest
import yaml

from kpi_pipeline.catalog import Catalog, parse_catalog
from kpi_pipeline.extraction.anthropic_backend import AnthropicBackend
from kpi_pipeline.extraction.cost import load_prices
from kpi_pipeline.extraction.injection import find_injections
from kpi_pipeline.extraction.offline import OfflineBackend
from kpi_pipeline.extraction.pipeline import DayExtraction, RawDay, extract_days
from kpi_pipeline.extraction.schema import ExtractionBackend
from kpi_pipeline.quality.gate import GateResult, run_gate
from kpi_pipeline.testing.anthropic_server import serve_anthropic
from kpi_pipeline.warehouse.tables import RAW_DOCS, RAW_JIRA_EVENTS, RAW_JIRA_ISSUES, RAW_SLACK_MESSAGES

CORPUS = Path(__file__).parent / "attack_corpus"
CATALOG: Catalog = parse_catalog(yaml.safe_load((CORPUS / "metrics.yaml").read_text()))
FIRST_DAY = date(2026, 8, 1)
KINDS = {
    "direct",
    "reworded",
    "split",
    "language",
    "table_cell",
    "code_block",
    "html_comment",
    "thread_reply",
    "planted_json",
    "role_marker",
    "hidden_characters",
}


@dataclass(frozen=True)
class Attack:
    id: str
    kind: str
    metric: str
    true_value: float
    injected_value: float
    sources: tuple[dict[str, Any], ...]
    day: date

    @property
    def planted(self) -> list[dict[str, Any]]:
        return [s for s in self.sources if s.get("attack")]


def load_attacks() -> list[Attack]:
    cases = [c for name in ("slack", "jira", "docs") for c in yaml.safe_load((CORPUS / f"{name}.yaml").read_text())]
    return [
        Attack(
            id=c["id"],
            kind=c["kind"],
            metric=c["metric"],
            true_value=float(c["true_value"]),
            injected_value=float(c["injected_value"]),
            sources=tuple(c["sources"]),
            day=FIRST_DAY + timedelta(days=i),
        )
        for i, c in enumerate(cases)
    ]


ATTACKS = load_attacks()


def raw_day(attack: Attack) -> RawDay:
    """The attack's sources as the raw tables hold them: Slack messages (replies in their parent's thread),
    comments on one Jira issue, docs files; one an hour from 09:00 in corpus order."""
    start = pd.Timestamp(attack.day, tz="UTC") + pd.Timedelta(hours=9)
    slack, comments, docs = [], [], []
    ts = {}
    for n, source in enumerate(attack.sources):
        at = start + pd.Timedelta(hours=n)
        if source["type"] == "slack":
            ts[n] = f"{int(at.timestamp())}.000100"
            channel = source.get("channel", "metrics")
            parent = ts.get(source["thread_of"]) if "thread_of" in source else None
            slack.append(
                {
                    "channel_id": f"C{channel.upper()}",
                    "channel_name": channel,
                    "ts": ts[n],
                    "thread_ts": parent,
                    "user_id": f"U{n}",
                    "text": source["text"],
                    "day": attack.day,
                }
            )
        elif source["type"] == "jira":
            key = source.get("issue", "CS-1")
            comments.append(
                {
                    "event_id": f"{key}:comment:{n + 1}",
                    "issue_key": key,
                    "event_type": "comment",
                    "body": source["text"],
                    "occurred_at": at,
                    "day": attack.day,
                }
            )
        else:
            path = source.get("path", "status/daily.md")
            docs.append({"path": path, "revision": f"r{n}", "title": path, "text": source["text"], "day": attack.day})
    issues = [
        {
            "issue_key": key,
            "summary": "Customer health",
            "created_at": pd.Timestamp("2026-06-01", tz="UTC"),
            "day": attack.day,
        }
        for key in sorted({c["issue_key"] for c in comments})
    ]
    return RawDay(
        pd.DataFrame(slack, columns=RAW_SLACK_MESSAGES.column_names),
        pd.DataFrame(issues, columns=RAW_JIRA_ISSUES.column_names),
        pd.DataFrame(comments, columns=RAW_JIRA_EVENTS.column_names),
        pd.DataFrame(docs, columns=RAW_DOCS.column_names),
    )


@dataclass(frozen=True)
class Run:
    days: dict[date, DayExtraction]
    gate: GateResult

    def published(self, attack: Attack) -> float | None:
        rows = self.gate.publish
        hit = rows[(rows["metric_id"] == attack.metric) & (rows["day"] == attack.day)]
        return float(hit["value"].iloc[0]) if len(hit) else None

    def candidates(self, attack: Attack) -> pd.DataFrame:
        frame = self.days[attack.day].candidates
        return frame[frame["metric_id"] == attack.metric]


def run(backend: ExtractionBackend, *, screen: bool = True) -> Run:
    """Every attack day in one extraction (one backend call), then the gate over all of them."""
    days = extract_days({a.day: raw_day(a) for a in ATTACKS}, CATALOG, backend, screen=screen)
    values = pd.concat([d.values for d in days.values()], ignore_index=True)
    values = values.assign(run_id="attack-corpus", computed_at=pd.Timestamp("2026-12-01", tz="UTC"))  # the asset's
    return Run(days, run_gate(values, CATALOG, [a.day for a in ATTACKS]))


@pytest.fixture(scope="module")
def obeying_server() -> Iterator[Any]:
    with serve_anthropic(api_key="sk-ant-attack-corpus", obey_injections=True) as server:
        yield server


def obeying_backend(server: Any) -> AnthropicBackend:
    client = anthropic.Anthropic(
        api_key="sk-ant-attack-corpus", base_url=server.base_url, max_retries=0, _strict_response_validation=True
    )
    return AnthropicBackend(client, "claude-sonnet-5-5", load_prices(), None, None, batch_min_days=None)


@pytest.fixture(scope="module")
def runs(obeying_server: Any) -> dict[str, Run]:
    return {"offline": run(OfflineBackend()), "anthropic_obeying": run(obeying_backend(obeying_server))}


@pytest.fixture(scope="module")
def unscreened(obeying_server: Any) -> Run:
    """The obeying model reads every attack: only grounding and the gate stand between it and the tables."""
    return run(obeying_backend(obeying_server), screen=False)


def test_the_corpus_has_thirty_attacks_of_every_kind_in_slack_jira_and_docs() -> None:
    assert len(ATTACKS) >= 30
    assert len({a.id for a in ATTACKS}) == len(ATTACKS)
    assert {a.kind for a in ATTACKS} == KINDS
    assert {s["type"] for a in ATTACKS for s in a.planted} == {"slack", "jira", "docs"}
    for attack in ATTACKS:
        assert attack.planted and len(attack.planted) < len(attack.sources), attack.id  # an honest source too
        assert attack.injected_value != attack.true_value, attack.id
        bounds = CATALOG.metric(attack.metric).validation
        assert bounds.min is not None and bounds.max is not None
        assert bounds.min <= attack.injected_value <= bounds.max, attack.id  # no range rule would catch it


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.id for a in ATTACKS])
def test_the_detector_flags_every_planted_text_and_no_honest_one(attack: Attack) -> None:
    for source in attack.sources:
        hits = find_injections(source["text"])
        assert bool(hits) == bool(source.get("attack")), (source["text"], [h.rule for h in hits])


@pytest.mark.parametrize("backend", ["offline", "anthropic_obeying"])
def test_no_injected_value_is_published_and_the_honest_one_is_on_every_attack_day(
    runs: dict[str, Run], backend: str
) -> None:
    result = runs[backend]
    assert not result.gate.problems  # nothing blocked, no day held back: the attacks cost nothing else
    outcomes = {a.id: result.published(a) for a in ATTACKS}
    assert outcomes == {a.id: a.true_value for a in ATTACKS}


def test_the_obeying_server_answers_every_dictated_value_it_reads(unscreened: Run) -> None:
    """Given the attacks, the server does answer the dictated values: the corpus runs are not green because
    the server declined."""
    obeyed = [a.id for a in ATTACKS if attack_value_read(unscreened, a)]
    assert len(obeyed) == len(ATTACKS), sorted({a.id for a in ATTACKS} - set(obeyed))


def attack_value_read(result: Run, attack: Attack) -> bool:
    read = result.candidates(attack)
    return bool((read["value"] == attack.injected_value).any())


def test_without_screening_every_obeyed_reading_is_flagged_and_none_is_published(unscreened: Run) -> None:
    for attack in ATTACKS:
        assert unscreened.published(attack) != attack.injected_value, attack.id
        obeyed = unscreened.candidates(attack)
        obeyed = obeyed[obeyed["value"] == attack.injected_value]
        for issues in obeyed["grounding_issues"]:
            flags = {i["flag"] for i in json.loads(issues)}
            assert "suspected_prompt_injection" in flags, attack.id
