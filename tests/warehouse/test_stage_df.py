"""A frame staged as a temporary table is loaded once and copied by INSERT ... SELECT, on both engines."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from kpi_pipeline.warehouse import Warehouse
from kpi_pipeline.warehouse.tables import RAW_DOCS, Column

NOW = datetime(2026, 7, 3, 12, 0, tzinfo=UTC)
COLUMNS = (Column("path", "TEXT", nullable=False), Column("title", "TEXT"), Column("first_day", "INTEGER"))


def staged_docs(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "path": [f"status/{i}.md" for i in range(n)],
            "title": [None if i == 0 else f"Doc {i}" for i in range(n)],
            "first_day": [date(2026, 7, 1).toordinal() + i for i in range(n)],
        }
    )


def copy_day(wh: Warehouse, staged: str, day: date) -> None:
    with wh.transaction() as tx:
        tx.delete_days(RAW_DOCS, [day])
        tx.execute(
            f"INSERT INTO {RAW_DOCS.qualified} (path, revision, title, day, ingested_at) "
            f"SELECT path, CAST(? AS TEXT), title, CAST(? AS DATE), CAST(? AS TIMESTAMPTZ) FROM {staged} "
            "WHERE first_day <= ?",
            [f"r-{day}", day, NOW, day.toordinal()],
        )


def test_a_staged_frame_serves_many_copies_in_its_session(warehouse: Warehouse) -> None:
    with warehouse.session():
        with warehouse.transaction() as tx:
            staged = warehouse.stage_df(tx, "docs_spans", COLUMNS, staged_docs(3))
        for day in (date(2026, 7, 1), date(2026, 7, 2), date(2026, 7, 3)):
            copy_day(warehouse, staged.qualified, day)

    rows = warehouse.query_df("SELECT day, path, title FROM raw.docs ORDER BY day, path")
    assert [(str(r.day)[:10], r.path) for r in rows.itertuples()] == [
        ("2026-07-01", "status/0.md"),
        ("2026-07-02", "status/0.md"),
        ("2026-07-02", "status/1.md"),
        ("2026-07-03", "status/0.md"),
        ("2026-07-03", "status/1.md"),
        ("2026-07-03", "status/2.md"),
    ]
    assert rows["title"].isna().sum() == 3  # NULL stays NULL


def test_staging_again_replaces_the_table_and_the_session_end_drops_it(warehouse: Warehouse) -> None:
    with warehouse.session():
        with warehouse.transaction() as tx:
            warehouse.stage_df(tx, "docs_spans", COLUMNS, staged_docs(3))
        with warehouse.transaction() as tx:
            staged = warehouse.stage_df(tx, "docs_spans", COLUMNS, staged_docs(1))
        assert warehouse.scalar(f"SELECT count(*) FROM {staged.qualified}") == 1
    with warehouse.session():
        assert warehouse.scalar(f"SELECT count(*) FROM {RAW_DOCS.qualified}") == 0
        exists = warehouse.query_df("SELECT table_name FROM information_schema.tables WHERE table_name = 'docs_spans'")
        assert exists.empty
