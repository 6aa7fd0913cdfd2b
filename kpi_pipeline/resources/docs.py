"""DocsSource: status docs and postmortems from a folder of markdown/text files or a git repository."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from dagster import ConfigurableResource
from pydantic import Field

from kpi_pipeline.sources.docs import docs_for_day
from kpi_pipeline.sources.errors import SourceError


class DocsSource(ConfigurableResource):
    """Reads one UTC day of docs. A folder with .git is read revision by revision; any other folder by `date:`."""

    source: str = Field(description="KPI_DOCS_SOURCE: a folder of markdown/text files, or a git repository")

    def docs_for_day(self, day: date) -> pd.DataFrame:
        """raw.docs rows of `day`, without ingested_at."""
        if not self.source.strip():
            raise SourceError("KPI_DOCS_SOURCE is empty: set it to a docs folder or a git repository")
        return docs_for_day(Path(self.source).expanduser(), day)
