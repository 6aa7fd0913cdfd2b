"""The one-line cause of a failed run, as its step log has it, for the command line.

A failed step's error is wrapped by Dagster ("Error occurred while executing op ...") around the error the
code raised; the innermost one is what a user can act on. A run that failed outside any step (interrupted,
marked failed) has only its run failure message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dagster import DagsterEvent, DagsterEventType, DagsterInstance, RunsFilter

BACKFILL_TAG = "dagster/backfill"  # the system tag Dagster puts on every run of a backfill


def _first_line(text: str) -> str:
    """The first non-empty line, with an exception's module path cut (`a.b.SourceError: x` -> `SourceError: x`)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "(no message)"
    head, sep, rest = lines[0].partition(": ")
    if sep and " " not in head and "." in head:
        return f"{head.rsplit('.', 1)[1]}: {rest}"
    return lines[0]


def step_error(event: DagsterEvent) -> str:
    """`in <step>: <cause>` for a step failure event; the message of a run failure event."""
    data = event.step_failure_data if event.is_step_failure else None
    if data is None:
        return _first_line(event.message or "the run failed")
    if data.user_failure_data is not None and data.user_failure_data.description:
        cause = data.user_failure_data.description
    elif data.error is not None:
        error = data.error
        while error.cause is not None:
            error = error.cause
        cause = error.message
    else:
        cause = event.message or "the step failed"
    return f"in {event.step_key}: {_first_line(cause)}"


def failure_lines(events: Iterable[DagsterEvent]) -> list[str]:
    """One line per failed step; the run failure's message when no step failed."""
    events = list(events)
    steps = [step_error(e) for e in events if e.is_step_failure]
    if steps:
        return steps
    return [step_error(e) for e in events if e.is_run_failure][:1]


def run_failure_lines(instance: DagsterInstance, run_id: str) -> list[str]:
    records = instance.all_logs(run_id, of_type={DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE})
    return failure_lines(r.dagster_event for r in records if r.dagster_event is not None)


def backfill_failure_lines(instance: DagsterInstance, backfill_id: str) -> Sequence[str]:
    """`run <id> failed in <step>: <cause>` for each failed step of the backfill's runs."""
    lines = []
    for run in instance.get_runs(RunsFilter(tags={BACKFILL_TAG: backfill_id})):
        if run.is_failure:
            for line in run_failure_lines(instance, run.run_id):
                lines.append(
                    f"run {run.run_id} failed {line}" if line.startswith("in ") else f"run {run.run_id} failed: {line}"
                )
    return lines
