"""DocsSource: status docs and postmortems from a folder of markdown/text files or a git repository."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
from dagster import ConfigurableResource
from pydantic import Field

from kpi_pipeline.sources.docs import DOCS_COLUMNS, day_reader, future_dated
from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.sources.presence import describe, skip_reason


class DocsSource(ConfigurableResource):
    """Reads one UTC day of docs. A folder with .git is read revision by revision; any other folder by `date:`."""

    source: str = Field(description="KPI_DOCS_SOURCE: a folder of markdown/text files, a git repository, or none")
    from_dataset: bool = Field(
        default=False, description="`source` is the default $KPI_DATASET/docs: a dataset without it has no docs"
    )

    def skip_reason(self) -> str | None:
        """Why there is no docs source to read (KPI_DOCS_SOURCE=none, or a dataset without docs/), else None."""
        return skip_reason("docs", "KPI_DOCS_SOURCE", self.source, self.from_dataset)

    def location(self) -> str:
        """Where the rows come from, for messages: `KPI_DOCS_SOURCE=...` or the dataset's docs/ folder."""
        return describe("docs", "KPI_DOCS_SOURCE", self.source, self.from_dataset)

    def notes(self) -> dict[str, int]:
        """What the folder holds that no partition up to today reads: docs dated in the future."""
        if self.skip_reason() is not None or not self.source.strip():
            return {"future_dated_docs": 0}
        return {"future_dated_docs": future_dated(Path(self.source).expanduser(), datetime.now(UTC).date())}

    def day_reader(self) -> Callable[[date], pd.DataFrame]:
        """raw.docs rows of one day at a time, without ingested_at, for the days of one run (the folder is
        listed once); none when the source is skipped."""
        if self.skip_reason() is not None:
            return lambda day: pd.DataFrame(columns=DOCS_COLUMNS)
        if not self.source.strip():
            raise SourceError("KPI_DOCS_SOURCE is empty: set it to a docs folder or a git repository")
        return day_reader(Path(self.source).expanduser())
