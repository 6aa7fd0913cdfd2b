"""SlackSource: one resource, export folder / ZIP / Web API, the same rows for a day."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import dagster
import pandas as pd
import pytest

from kpi_pipeline.resources.slack import SlackSource
from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.testing.slack_server import SlackApiServer
from kpi_pipeline.warehouse.tables import RAW_SLACK_MESSAGES

TOKEN = "xoxb-resource-test"
DAYS = (date(2015, 6, 10), date(2015, 6, 11), date(2015, 6, 12))


@pytest.fixture
def houston(realdata: Path) -> Path:
    return realdata / "slack_exports" / "houstondatavis"


def test_export_folder_and_zip_give_the_same_rows(houston: Path, tmp_path: Path) -> None:
    archive = shutil.make_archive(str(tmp_path / "houston"), "zip", houston)
    folder, zipped = SlackSource(source=str(houston)), SlackSource(source=archive)
    for day in DAYS:
        rows = folder.messages_for_day(day)
        assert list(rows.columns) == [c for c in RAW_SLACK_MESSAGES.column_names if c != "ingested_at"]
        assert len(rows) > 0 and (rows["day"] == day).all()
        pd.testing.assert_frame_equal(rows, zipped.messages_for_day(day))


def test_api_mode_gives_the_export_rows(houston: Path) -> None:
    # the export knows the workspace URL only on days with shared files; compare the links on such a day
    day = date(2015, 6, 19)
    export_rows = SlackSource(source=str(houston)).messages_for_day(day)
    assert export_rows["permalink"].str.startswith("https://houstondatavis.slack.com/").all()
    server = SlackApiServer(houston, token=TOKEN, page_size=3, workspace_url="https://houstondatavis.slack.com/")
    with server as url:
        api = SlackSource(source="api", token=TOKEN, api_url=url, lookback_days=1)
        pd.testing.assert_frame_equal(api.messages_for_day(day), export_rows)


def test_the_resource_works_inside_a_dagster_asset(houston: Path) -> None:
    @dagster.asset
    def day_rows(slack: SlackSource) -> int:
        return len(slack.messages_for_day(date(2015, 6, 10)))

    result = dagster.materialize([day_rows], resources={"slack": SlackSource(source=str(houston))})
    assert result.success and result.output_for_node("day_rows") == 53


def test_bad_settings_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="KPI_SLACK_SOURCE="):
        SlackSource(source=str(tmp_path / "missing")).messages_for_day(DAYS[0])
    with pytest.raises(SourceError, match="SLACK_BOT_TOKEN is not set"):
        SlackSource(source="api").messages_for_day(DAYS[0])


def test_the_token_is_not_shown() -> None:
    resource = SlackSource(source="api", token="xoxb-do-not-print")
    assert "xoxb-do-not-print" not in repr(resource) and "xoxb-do-not-print" not in str(resource)
