"""A failed run is reported on the command line by its failed step and the error that step raised, in one line."""

from __future__ import annotations

from dagster import DagsterInstance, Failure, asset, materialize

from kpi_pipeline.orchestration.run_errors import failure_lines, run_failure_lines


@asset
def source_rows() -> int:
    raise ValueError("docs source /nowhere is not a folder: set KPI_DOCS_SOURCE\nsecond line of detail")


@asset
def gated() -> int:
    raise Failure(description="quality gate failed for 2026-07-01; nothing published: 3 duplicate rows")


def test_the_cause_is_the_error_the_step_raised_on_one_line() -> None:
    result = materialize([source_rows], raise_on_error=False)
    assert failure_lines(result.all_events) == [
        "in source_rows: ValueError: docs source /nowhere is not a folder: set KPI_DOCS_SOURCE"
    ]


def test_a_failure_raised_on_purpose_is_reported_by_its_description() -> None:
    result = materialize([gated], raise_on_error=False)
    assert failure_lines(result.all_events) == [
        "in gated: quality gate failed for 2026-07-01; nothing published: 3 duplicate rows"
    ]


def test_the_stored_run_gives_the_same_line() -> None:
    with DagsterInstance.ephemeral() as instance:
        result = materialize([source_rows], instance=instance, raise_on_error=False)
        assert run_failure_lines(instance, result.run_id) == failure_lines(result.all_events)
