"""Fixtures of the Dagster acceptance tests: one warehouse per engine shared by a module's tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import POSTGRES_URL, _postgres_reachable


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def engine_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh warehouse on each engine, shared by a module's tests (a fresh PostgreSQL database): a module
    publishes once per engine and runs its faults against that state. An unreachable server fails, never skips."""
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path_factory.mktemp('duck') / 'warehouse.duckdb'}"
        return
    problem = _postgres_reachable()
    if problem:
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is unreachable: {problem}")
    name = f"kpi_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{POSTGRES_URL.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
