"""DocsSource: the Dagster resource reading one day of docs from KPI_DOCS_SOURCE."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from dagster import EnvVar, asset, materialize

from kpi_pipeline.resources.docs import DocsSource
from kpi_pipeline.sources.errors import SourceError

STATUS = "---\ntitle: Weekly status\ndate: 2026-07-10\n---\n\nError rate 3.4%.\n"


def test_reads_one_day_of_a_folder(tmp_path: Path) -> None:
    (tmp_path / "status.md").write_text(STATUS)
    frame = DocsSource(source=str(tmp_path)).day_reader()(date(2026, 7, 10))
    assert frame["title"].tolist() == ["Weekly status"]
    assert "ingested_at" not in frame.columns


def test_is_configured_from_the_environment_at_run_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "status.md").write_text(STATUS)
    monkeypatch.setenv("KPI_DOCS_SOURCE", str(tmp_path))

    @asset
    def doc_titles(docs: DocsSource) -> list[str]:
        return docs.day_reader()(date(2026, 7, 10))["title"].tolist()

    result = materialize([doc_titles], resources={"docs": DocsSource(source=EnvVar("KPI_DOCS_SOURCE"))})
    assert result.success
    assert result.output_for_node("doc_titles") == ["Weekly status"]


def test_an_empty_setting_names_the_variable() -> None:
    with pytest.raises(SourceError, match="KPI_DOCS_SOURCE is empty"):
        DocsSource(source=" ").day_reader()(date(2026, 7, 10))


def test_a_missing_folder_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="missing"):
        DocsSource(source=str(tmp_path / "missing")).day_reader()(date(2026, 7, 10))
