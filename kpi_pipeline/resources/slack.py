"""The Slack source as a Dagster resource: an export (folder or ZIP) or the live Web API, one day at a time."""

from __future__ import annotations

import datetime

import dagster
import pandas
from pydantic import PrivateAttr

from kpi_pipeline.sources.presence import describe, skip_reason
from kpi_pipeline.sources.slack_api import SlackApiReader
from kpi_pipeline.sources.slack_export import DEFAULT_MAX_FILE_MB, SlackExport, Workspace, messages_frame


class SlackSource(dagster.ConfigurableResource):
    """Where Slack messages come from. `source` is an export folder, an export .zip, "api", or "none"."""

    source: str  # KPI_SLACK_SOURCE
    from_dataset: bool = False  # `source` is the default $KPI_DATASET/slack: a dataset without it has no Slack
    token: str | None = None  # SLACK_BOT_TOKEN (api mode); never logged
    api_url: str | None = None  # SLACK_API_URL: base URL override, e.g. "http://127.0.0.1:PORT/api/"
    lookback_days: int = 7  # api mode: threads this many days older are re-read for late replies
    max_file_mb: int = DEFAULT_MAX_FILE_MB  # KPI_MAX_SOURCE_FILE_MB: larger export files / ZIP entries are refused

    # kept open across days so a backfill run parses each export file once
    _export: SlackExport | None = PrivateAttr(default=None)

    def skip_reason(self) -> str | None:
        """Why there is no Slack source to read (KPI_SLACK_SOURCE=none, or a dataset without slack/), else None."""
        return skip_reason("slack", "KPI_SLACK_SOURCE", self.source, self.from_dataset)

    def location(self) -> str:
        """Where the rows come from, for messages: `KPI_SLACK_SOURCE=...` or the dataset's slack/ folder."""
        return describe("slack", "KPI_SLACK_SOURCE", self.source, self.from_dataset)

    def messages_for_day(self, day: datetime.date) -> pandas.DataFrame:
        """raw.slack_messages rows (without ingested_at) of every message whose own ts is on the UTC `day`;
        none when the source is skipped."""
        if self.skip_reason() is not None:
            return messages_frame([], day, Workspace())
        if self.source.strip().lower() == "api":
            reader = SlackApiReader.connect(self.token, self.api_url, self.lookback_days)
            return reader.messages_for_day(day)
        return self._opened().messages_for_day(day)

    def notes(self) -> dict[str, int]:
        """What the export holds that is not read: channel folders no channels.json (or groups, dms) lists."""
        if self.skip_reason() is not None or self.source.strip().lower() == "api":
            return {"orphan_channel_folders": 0}
        return {"orphan_channel_folders": len(self._opened().orphan_folders)}

    def _opened(self) -> SlackExport:
        if self._export is None:
            self._export = SlackExport.open(self.source, max_file_mb=self.max_file_mb)
        return self._export

    def teardown_after_execution(self, context: dagster.InitResourceContext) -> None:
        if self._export is not None:
            self._export.close()
            self._export = None

    def __repr__(self) -> str:
        token = "set" if self.token else "unset"
        return f"SlackSource(source={self.source!r}, token=<{token}>, api_url={self.api_url!r})"

    def __str__(self) -> str:
        return repr(self)
