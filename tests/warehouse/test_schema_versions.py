"""Schema DDL runs once per change of the code's schema, under one lock: concurrent first runs both succeed,
and later runs take no lock that a BI query holds (PostgreSQL), on both engines where it applies."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from kpi_pipeline.quality.gate import run_gate
from kpi_pipeline.warehouse import Warehouse, open_warehouse
from kpi_pipeline.warehouse.publish import VIEWS, ensure_kpi_schema, publish_catalog, publish_gate, read_metric_values
from kpi_pipeline.warehouse.tables import ALL_TABLES, RAW_DOCS, Column, Table
from tests.quality.synthetic import CATALOG, DAY, clean_day, store


def test_first_ensures_in_four_processes_at_once_all_succeed_on_postgres(postgres_url: str) -> None:
    # a fresh database: every ensure_tables finds no schema and creates it; without a lock, the second
    # CREATE SCHEMA IF NOT EXISTS dies with UniqueViolation (nspname)=(raw)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def first_backfill() -> None:
        wh = open_warehouse(postgres_url)  # one connection each, as separate processes have
        start.wait()
        try:
            wh.ensure_tables()
            ensure_kpi_schema(wh)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_backfill) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    wh = open_warehouse(postgres_url)
    for t in ALL_TABLES:
        assert wh.scalar(f"SELECT count(*) FROM {t.qualified}") == 0
    for view in VIEWS:
        assert wh.scalar(f"SELECT count(*) FROM {view.qualified}") == 0


@pytest.fixture
def bi_reader(postgres_url: str) -> Iterator[psycopg.Connection]:
    """A BI session in the middle of a query: AccessShareLock on every kpi table and view until it ends."""
    wh = open_warehouse(postgres_url)
    wh.ensure_tables()
    ensure_kpi_schema(wh)
    with psycopg.connect(postgres_url) as con:
        for name in [t.qualified for t in ALL_TABLES] + [v.qualified for v in VIEWS]:
            con.execute(f"SELECT count(*) FROM {name}").fetchall()
        yield con  # the transaction stays open, so the locks are held
        con.rollback()


def test_a_second_run_takes_no_lock_a_bi_reader_holds_on_postgres(
    postgres_url: str, bi_reader: psycopg.Connection
) -> None:
    # the writer gives up after 300 ms waiting for a lock: any ALTER, DROP or CREATE OR REPLACE on a table
    # or view the reader holds would fail here instead of waiting behind (and then blocking) BI queries
    writer = open_warehouse(postgres_url + "?options=-c%20lock_timeout%3D300")
    writer.ensure_tables()
    ensure_kpi_schema(writer)
    # and the rest of a day's run: the catalog, the extracted values and the published day
    publish_catalog(writer, CATALOG)
    store(writer, clean_day(DAY), [DAY])
    gate = run_gate(read_metric_values(writer, [DAY]), CATALOG, [DAY])
    publish_gate(writer, gate, "run-1", datetime(2026, 7, 3, tzinfo=UTC))
    assert writer.scalar("SELECT count(*) FROM kpi.fct_metric_daily") == 3


def test_a_changed_view_is_replaced_in_place_not_dropped_and_created(postgres_url: str) -> None:
    wh = open_warehouse(postgres_url)
    wh.ensure_tables()
    ensure_kpi_schema(wh)
    oid = wh.scalar("SELECT 'kpi.okr_progress'::regclass::oid")
    wh.execute("DELETE FROM kpi_meta.schema_version")  # as if the code's view definitions had changed
    ensure_kpi_schema(wh)
    assert wh.scalar("SELECT 'kpi.okr_progress'::regclass::oid") == oid  # CREATE OR REPLACE, never dropped


def _docs_v2() -> Table:
    """raw.docs as a later release defines it: one more nullable column."""
    return Table(RAW_DOCS.schema, RAW_DOCS.name, (*RAW_DOCS.columns, Column("language", "TEXT")), RAW_DOCS.key)


def test_a_contract_change_reaches_an_existing_warehouse(warehouse: Warehouse) -> None:
    warehouse.ensure_tables([_docs_v2()])
    assert warehouse.scalar("SELECT count(language) FROM raw.docs") == 0


def test_an_object_dropped_behind_the_pipelines_back_is_created_again(warehouse: Warehouse) -> None:
    ensure_kpi_schema(warehouse)
    warehouse.execute("DROP VIEW kpi.okr_progress")
    warehouse.execute("DROP TABLE kpi.dim_metric")
    ensure_kpi_schema(warehouse)
    assert warehouse.scalar("SELECT count(*) FROM kpi.okr_progress") == 0
    assert warehouse.scalar("SELECT count(*) FROM kpi.dim_metric") == 0


def test_the_version_rows_name_every_object_and_live_outside_the_bi_schema(warehouse: Warehouse) -> None:
    ensure_kpi_schema(warehouse)
    rows = warehouse.query_df("SELECT object, fingerprint FROM kpi_meta.schema_version ORDER BY object")
    expected = {t.qualified for t in ALL_TABLES} | {v.qualified for v in VIEWS}
    assert set(rows["object"]) == expected
    assert rows["fingerprint"].str.len().min() > 0
