"""A dataset may hold any subset of sources; `none` or a missing dataset subfolder skips one, a typo does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.sources.presence import describe, skip_reason


@pytest.mark.parametrize("value", ["none", "None", " NONE "])
def test_none_skips_the_source_naming_the_setting(value: str) -> None:
    assert skip_reason("jira", "KPI_JIRA_SOURCE", value, False) == (
        "jira: no source configured (KPI_JIRA_SOURCE=none); skipped"
    )


def test_a_dataset_without_the_sources_folder_skips_it(tmp_path: Path) -> None:
    reason = skip_reason("slack", "KPI_SLACK_SOURCE", str(tmp_path / "slack"), True)
    assert reason == f"slack: no source configured ({tmp_path} has no slack/ and KPI_SLACK_SOURCE is unset); skipped"


def test_a_dataset_folder_that_does_not_exist_is_an_error_naming_kpi_dataset(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"^KPI_DATASET='.*missing': no such dataset folder.*KPI_DOCS_SOURCE"):
        skip_reason("docs", "KPI_DOCS_SOURCE", str(tmp_path / "missing" / "docs"), True)


def test_present_folders_and_explicit_paths_are_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "slack").mkdir()
    assert skip_reason("slack", "KPI_SLACK_SOURCE", str(tmp_path / "slack"), True) is None
    # an explicit path is never skipped: the reader then says it does not exist, naming the setting
    assert skip_reason("slack", "KPI_SLACK_SOURCE", str(tmp_path / "typo"), False) is None
    assert skip_reason("slack", "KPI_SLACK_SOURCE", "api", False) is None


def test_locations_name_the_setting_or_the_dataset_folder() -> None:
    assert describe("docs", "KPI_DOCS_SOURCE", "/d/docs", False) == "KPI_DOCS_SOURCE='/d/docs'"
    assert (
        describe("docs", "KPI_DOCS_SOURCE", "/d/docs", True)
        == "/d/docs (the dataset's docs/; KPI_DOCS_SOURCE overrides it)"
    )
