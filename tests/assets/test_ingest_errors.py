"""Bad input fails the partition with one clear error and writes nothing for it; other days stay as they were."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from dagster import materialize

from kpi_pipeline.assets.ingest import raw_slack_messages
from kpi_pipeline.resources.slack import SlackSource
from kpi_pipeline.resources.warehouse import WarehouseResource
from kpi_pipeline.warehouse import open_warehouse

GOOD_DAY, BAD_DAY = date(2026, 7, 1), date(2026, 7, 5)


def ts(day: date, hour: int) -> str:
    return f"{datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp():.6f}"


def write_export(root: Path) -> Path:
    (root / "general").mkdir(parents=True)
    (root / "channels.json").write_text(json.dumps([{"id": "C1", "name": "general"}]))
    (root / "users.json").write_text("[]")
    messages = [{"type": "message", "ts": ts(GOOD_DAY, h), "user": "U1", "text": f"hi {h}"} for h in (9, 10)]
    (root / "general" / f"{GOOD_DAY}.json").write_text(json.dumps(messages))
    (root / "general" / f"{BAD_DAY}.json").write_text('[{"type": "message", "ts": ')  # cut off mid-file
    return root


def run(export: Path, url: str, day: date) -> tuple[bool, str]:
    result = materialize(
        [raw_slack_messages],
        partition_key=day.isoformat(),
        resources={"slack": SlackSource(source=str(export)), "warehouse": WarehouseResource(url=url)},
        raise_on_error=False,
    )
    failures = [e.event_specific_data.error.to_string() for e in result.all_events if e.is_step_failure]  # type: ignore[union-attr]
    return result.success, "\n".join(failures)


def test_a_malformed_day_file_fails_its_partition_naming_the_file_and_writes_nothing(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export")
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    assert run(export, url, GOOD_DAY)[0]
    before = open_warehouse(url).query_df("SELECT * FROM raw.slack_messages ORDER BY ts")

    ok, error = run(export, url, BAD_DAY)

    assert not ok
    assert f"{BAD_DAY}.json" in error and "general" in error
    after = open_warehouse(url).query_df("SELECT * FROM raw.slack_messages ORDER BY ts")
    assert after.equals(before)  # nothing for the bad day, the good day untouched
    assert len(after) == 2


def test_a_missing_channels_file_says_which_file_and_setting(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export")
    (export / "channels.json").unlink()
    ok, error = run(export, f"duckdb:///{tmp_path / 'wh.duckdb'}", GOOD_DAY)
    assert not ok
    assert "channels.json" in error
