"""The warehouse contract, run on DuckDB and on the real PostgreSQL of this machine."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from kpi_pipeline.warehouse import Warehouse, WarehouseError, open_warehouse
from kpi_pipeline.warehouse.engine import redact_url
from kpi_pipeline.warehouse.postgres_engine import to_pyformat
from kpi_pipeline.warehouse.tables import ALL_TABLES, RAW_DOCS

DAY1, DAY2 = date(2026, 7, 1), date(2026, 7, 2)
NOW = datetime(2026, 7, 3, 12, 0, tzinfo=UTC)


def docs_rows(day: date, n: int, text: str = "error rate 3%") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "path": [f"status/{i}.md" for i in range(n)],
            "revision": [f"r-{day}"] * n,
            "title": [f"Doc {i}" for i in range(n)],
            "text": [text] * n,
            "day": [day] * n,
            "ingested_at": [NOW] * n,
        }
    )


def table_state(wh: Warehouse) -> list[tuple[object, ...]]:
    df = wh.query_df("SELECT path, revision, title, text, day FROM raw.docs ORDER BY day, path")
    return [tuple(str(v) for v in row) for row in df.itertuples(index=False)]


def test_ensure_tables_creates_every_contract_table_and_is_idempotent(warehouse: Warehouse) -> None:
    warehouse.ensure_tables()
    for t in ALL_TABLES:
        assert warehouse.scalar(f"SELECT count(*) FROM {t.qualified}") == 0


def test_replacing_a_day_twice_leaves_identical_rows(warehouse: Warehouse) -> None:
    warehouse.replace_days(RAW_DOCS, [DAY1], docs_rows(DAY1, 3))
    warehouse.replace_days(RAW_DOCS, [DAY2], docs_rows(DAY2, 2))
    first = table_state(warehouse)
    warehouse.replace_days(RAW_DOCS, [DAY1], docs_rows(DAY1, 3))
    assert table_state(warehouse) == first
    assert len(first) == 5


def test_replacing_a_day_does_not_touch_other_days(warehouse: Warehouse) -> None:
    warehouse.replace_days(RAW_DOCS, [DAY1], docs_rows(DAY1, 3))
    warehouse.replace_days(RAW_DOCS, [DAY2], docs_rows(DAY2, 2))
    warehouse.replace_days(RAW_DOCS, [DAY1], docs_rows(DAY1, 1, text="new"))
    counts = warehouse.query_df("SELECT day, count(*) AS n FROM raw.docs GROUP BY day ORDER BY day")
    assert counts["n"].tolist() == [1, 2]


def test_a_failing_replace_leaves_the_previous_day(warehouse: Warehouse) -> None:
    warehouse.replace_days(RAW_DOCS, [DAY1], docs_rows(DAY1, 3))
    before = table_state(warehouse)
    duplicate_key = pd.concat([docs_rows(DAY1, 2), docs_rows(DAY1, 1)])  # status/0.md twice: primary key violation
    with pytest.raises(Exception, match=r"(?i)(duplicate|constraint|unique)"):
        warehouse.replace_days(RAW_DOCS, [DAY1], duplicate_key)
    assert table_state(warehouse) == before


def test_rows_outside_the_replaced_days_are_refused(warehouse: Warehouse) -> None:
    with pytest.raises(WarehouseError, match="outside the days"):
        warehouse.replace_days(RAW_DOCS, [DAY1], docs_rows(DAY2, 1))


def test_unknown_columns_are_refused_with_the_table_name(warehouse: Warehouse) -> None:
    with pytest.raises(WarehouseError, match=r"raw\.docs has no column"):
        warehouse.replace_days(RAW_DOCS, [DAY1], docs_rows(DAY1, 1).assign(colour="red"))


def test_placeholders_and_literal_percent_signs_work_on_both_engines(warehouse: Warehouse) -> None:
    warehouse.replace_days(RAW_DOCS, [DAY1], docs_rows(DAY1, 2, text="uptime 99.9% today?"))
    n = warehouse.scalar(
        "SELECT count(*) FROM raw.docs WHERE day = ? AND text LIKE '%99.9%%' AND text LIKE '%?'", [DAY1]
    )
    assert n == 2


def test_missing_values_load_as_null(warehouse: Warehouse) -> None:
    df = docs_rows(DAY1, 2)
    df.loc[1, "title"] = None
    df["author"] = [float("nan"), "ana"]
    warehouse.replace_days(RAW_DOCS, [DAY1], df)
    nulls = warehouse.query_df("SELECT count(*) - count(title) AS t, count(*) - count(author) AS a FROM raw.docs")
    assert nulls.iloc[0].tolist() == [1, 1]


def _hold_lock_then_write(path: str, started: multiprocessing.synchronize.Event) -> None:
    wh = open_warehouse(f"duckdb:///{path}")
    with wh.transaction() as tx:
        started.set()
        import time

        time.sleep(1.0)
        tx.insert_df(RAW_DOCS, docs_rows(DAY1, 1))


def test_duckdb_writers_in_two_processes_take_turns(tmp_path: pytest.TempPathFactory) -> None:
    path = str(tmp_path / "w.duckdb")  # type: ignore[operator]
    open_warehouse(f"duckdb:///{path}").ensure_tables()
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Event()
    other = ctx.Process(target=_hold_lock_then_write, args=(path, started))
    other.start()
    assert started.wait(30)
    wh = open_warehouse(f"duckdb:///{path}")
    wh.replace_days(RAW_DOCS, [DAY2], docs_rows(DAY2, 1))  # waits for the other writer instead of failing
    other.join(30)
    assert other.exitcode == 0
    assert wh.scalar("SELECT count(*) FROM raw.docs") == 2


def test_unsupported_url_names_the_setting() -> None:
    with pytest.raises(WarehouseError, match="KPI_WAREHOUSE_URL"):
        open_warehouse("mysql://root@localhost/db")


def test_unreachable_postgres_says_what_to_check_without_the_password() -> None:
    wh = open_warehouse("postgresql://kpi:s3cret@127.0.0.1:1/nowhere")
    with pytest.raises(WarehouseError) as err:
        wh.ensure_tables()
    assert "KPI_WAREHOUSE_URL" in str(err.value)
    assert "s3cret" not in str(err.value)


def test_redact_url_hides_passwords_only() -> None:
    assert redact_url("postgresql://kpi:pw@db:5432/x") == "postgresql://kpi:***@db:5432/x"
    assert redact_url("postgresql://kpi@db/x") == "postgresql://kpi@db/x"


def test_pyformat_translation_leaves_quoted_question_marks() -> None:
    assert to_pyformat("SELECT '?' , x FROM t WHERE a = ? AND b LIKE '%x'") == (
        "SELECT '?' , x FROM t WHERE a = %s AND b LIKE '%%x'"
    )
