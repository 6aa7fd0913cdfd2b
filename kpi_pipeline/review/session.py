"""`kpi-pipeline review`: list what waits for a decision, take decisions by flags or at a prompt, write them.

A decision is always about the reading as it is in extract.metric_values now: its fingerprint goes into
the overrides file, so publishing applies it to that reading only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from kpi_pipeline.review.listing import Pending, reading_rows
from kpi_pipeline.review.overrides import Override, reading_fingerprint, write_override
from kpi_pipeline.warehouse import Warehouse

PROMPT = "decide: [a]ccept, [s]et VALUE, [r]eject, Enter to skip, [q]uit > "


class ReviewError(ValueError):
    """A decision that cannot be taken as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Decision:
    action: str  # accept | set | reject
    value: float | None
    reason: str
    reviewer: str


def decide(wh: Warehouse, folder: Path, metric: str, day: date, decision: Decision, now: datetime) -> Override:
    """Write `decision` on the current reading of `metric` on `day` to the overrides file."""
    row = reading_rows(wh, [(metric, day)]).get((metric, day))
    if row is None:
        raise ReviewError(f"no reading of {metric} on {day} in extract.metric_values: extract that day first")
    if row.get("status") == "unread":
        raise ReviewError(f"the answer for {metric} on {day} was not read (the backend gave none): rerun the day first")
    fingerprint = reading_fingerprint(row.get("value"), row.get("evidence"))
    if decision.action == "accept" and fingerprint == "none":
        raise ReviewError(f"{metric} on {day} has no value to accept: use --set VALUE, or --reject")
    override = Override(
        metric, day, decision.action, decision.value, decision.reason, decision.reviewer, now, fingerprint
    )
    write_override(folder, override)
    return override


def review_at_prompt(
    items: Sequence[Pending],
    record: Callable[[Pending, Decision], Override],
    ask: Callable[[str], str] = input,
    say: Callable[[str], None] = print,
) -> list[Override]:
    """Show each item and ask for a decision; `record` writes one. Stops at `q` or at the end of input."""
    written: list[Override] = []
    reviewer = ""
    try:
        for n, item in enumerate(items, start=1):
            for line in item.lines(n):
                say(line)
            parsed = _parse(ask(PROMPT).strip())
            while isinstance(parsed, str):
                say(parsed)
                parsed = _parse(ask(PROMPT).strip())
            if parsed is None:
                continue
            action, value = parsed
            if action == "quit":
                break
            reason = ""
            while not reason:
                reason = ask("reason (required) > ").strip()
            while not reviewer:
                reviewer = ask("reviewer (your name, asked once) > ").strip()
            try:
                override = record(item, Decision(action, value, reason, reviewer))
            except ReviewError as exc:
                say(f"not written: {exc}")
                continue
            written.append(override)
            say(f"written: {override.note()}")
    except EOFError:
        say("end of input: stopping")
    return written


def _parse(answer: str) -> tuple[str, float | None] | str | None:
    """(action, value), None to skip, or a message saying what to type."""
    if not answer:
        return None
    word, _, rest = answer.partition(" ")
    word = word.lower()
    if word in ("q", "quit"):
        return ("quit", None)
    if word in ("a", "accept"):
        return ("accept", None)
    if word in ("r", "reject"):
        return ("reject", None)
    if word in ("s", "set"):
        try:
            return ("set", float(rest.strip()))
        except ValueError:
            return "write the value after s, e.g. s 2.5"
    return f"{answer!r}: type a, s VALUE, r, q, or Enter to skip"
