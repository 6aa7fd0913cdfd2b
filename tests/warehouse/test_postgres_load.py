"""PostgreSQL loads a frame with one CSV COPY that DuckDB writes: the rows that arrive are the rows the
frame held, value for value, with empty strings, NULLs, quotes, newlines, COPY's end marker and time zones
intact."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from kpi_pipeline.warehouse import open_warehouse
from kpi_pipeline.warehouse.postgres_engine import write_csv
from kpi_pipeline.warehouse.tables import RAW_SLACK_MESSAGES

DAY = date(2026, 7, 1)
PARIS = timezone(timedelta(hours=2))


def awkward_messages() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "channel_id": ["C1", "C1", "C1", "C1"],
            "ts": ["1.000001", "2.000002", "3.000003", "4.000004"],
            "text": ["", None, 'she said "3%", then\nleft', "NULL\n\\.\n"],
            "reply_count": pd.array([2, None, 0, 7], dtype="Int64"),
            "day": [DAY] * 4,
            "ingested_at": [
                datetime(2026, 7, 1, 12, 0, 0, 123456, tzinfo=UTC),
                datetime(2026, 7, 1, 14, 0, tzinfo=PARIS),
                datetime(2026, 7, 1, tzinfo=UTC),
                datetime(2026, 7, 1, 23, 59, 59, tzinfo=UTC),
            ],
        }
    )


def loaded(postgres_url: str, frame: pd.DataFrame) -> list[tuple[object, ...]]:
    wh = open_warehouse(postgres_url)
    wh.ensure_tables([RAW_SLACK_MESSAGES])
    assert wh.replace_days(RAW_SLACK_MESSAGES, [DAY], frame) == len(frame)
    with wh.transaction() as tx:
        con = tx.con  # type: ignore[attr-defined]
        return list(
            con.execute(
                "SELECT ts, text, reply_count, day, ingested_at, channel_name FROM raw.slack_messages ORDER BY ts"
            ).fetchall()
        )


def test_awkward_values_arrive_exactly(postgres_url: str, tmp_path: Path) -> None:
    assert write_csv(RAW_SLACK_MESSAGES, awkward_messages(), tmp_path / "rows.csv")  # the one-COPY path
    rows = loaded(postgres_url, awkward_messages())
    assert [r[1] for r in rows] == ["", None, 'she said "3%", then\nleft', "NULL\n\\.\n"]
    assert [r[2] for r in rows] == [2, None, 0, 7]
    assert {r[3] for r in rows} == {DAY}
    assert [r[4] for r in rows] == list(awkward_messages()["ingested_at"])  # same instants, microseconds kept
    assert {r[5] for r in rows} == {None}  # a column the frame lacks loads as NULL


def test_a_frame_duckdb_cannot_type_still_loads_as_postgresql_reads_it(postgres_url: str, tmp_path: Path) -> None:
    frame = awkward_messages()
    frame["ingested_at"] = frame["ingested_at"].astype(object)
    frame.loc[3, "ingested_at"] = datetime(2026, 7, 1, 23, 59, 59)  # naive: the session's UTC, as psycopg sends it
    frame["channel_name"] = pd.array([7, 8, None, 9], dtype="Int64")  # numbers in a TEXT column: psycopg's text
    for bad in (frame[["channel_id", "ts", "day", "ingested_at"]], frame[["channel_id", "ts", "day", "channel_name"]]):
        assert not write_csv(RAW_SLACK_MESSAGES, bad, tmp_path / "rows.csv")
    rows = loaded(postgres_url, frame)
    assert rows[3][4] == datetime(2026, 7, 1, 23, 59, 59, tzinfo=UTC)
    assert [r[5] for r in rows] == ["7", "8", None, "9"]


def test_a_bad_value_fails_the_load_with_postgresqls_error(postgres_url: str) -> None:
    frame = awkward_messages()
    frame.loc[1, "channel_id"] = None  # NOT NULL
    with pytest.raises(Exception, match="channel_id"):
        loaded(postgres_url, frame)
