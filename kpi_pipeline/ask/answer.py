"""An answer to a question: its text and the (metric, day, quote) behind every number in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from kpi_pipeline.ask.data import Fact

NOT_IN_DATA = "not in the data"


@dataclass(frozen=True)
class Citation:
    metric_id: str
    day: date
    value: float
    quote: str
    source: str | None  # the source's link when it has one, else its id


@dataclass
class Answer:
    text: str
    answered: bool  # False: "not in the data" (or a refusal): no number was given
    shape: str | None = None  # which documented question shape answered it (offline backend)
    citations: list[Citation] = field(default_factory=list)


def number(value: float) -> str:
    """A value as people write it: no trailing zeros, at most four decimals."""
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.4f}".rstrip("0").rstrip(".")


class Cited:
    """Writes values of published facts into text, each followed by its citation, and keeps the citations."""

    def __init__(self) -> None:
        self.citations: list[Citation] = []

    def value(self, fact: Fact, unit: str = "") -> str:
        quote = fact.quotes[0] if fact.quotes else None
        source = (quote.url or quote.source_id) if quote else None
        self.citations.append(Citation(fact.metric_id, fact.day, fact.value, quote.text if quote else "", source))
        shown = f"{number(fact.value)} {unit}".rstrip()
        conflict = ", sources disagreed" if fact.status == "conflict" else ""
        cite = f'"{quote.text}"' + (f" <{source}>" if source else "") if quote else "no quote published"
        return f"{shown} [{fact.metric_id}, {fact.day}{conflict}: {cite}]"

    def answer(self, lines: list[str], shape: str) -> Answer:
        return Answer("\n".join(lines), True, shape, self.citations)


def not_in_data(why: str, shape: str | None = None) -> Answer:
    return Answer(f"{NOT_IN_DATA}: {why}", False, shape)
