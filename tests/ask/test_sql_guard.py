"""The ask SQL tool runs one SELECT over kpi.* and refuses everything else before it reaches a warehouse."""

from __future__ import annotations

import pytest

from kpi_pipeline.ask.sql_guard import SqlRefused, check_select

ALLOWED = [
    "SELECT * FROM kpi.fct_metric_daily",
    "select metric_id, max(day) from KPI.fct_metric_daily group by 1",
    "WITH latest AS (SELECT metric_id, max(day) AS day FROM kpi.fct_metric_daily GROUP BY 1) "
    "SELECT f.* FROM kpi.fct_metric_daily f JOIN latest USING (metric_id, day)",
    "SELECT p.* FROM kpi.okr_progress p WHERE p.day = (SELECT max(l.day) FROM kpi.okr_progress l)",
    "SELECT day::text, date_trunc('week', day), value * 2 FROM kpi.fct_metric_daily WHERE day >= DATE '2026-07-01'",
    "SELECT a.metric_id FROM kpi.dim_metric a UNION SELECT metric_id FROM kpi.okr_key_results",
]

REFUSED = {
    "ddl": ("CREATE TABLE kpi.x AS SELECT 1", "only SELECT"),
    "drop": ("DROP TABLE kpi.fct_metric_daily", "only SELECT"),
    "alter": ("ALTER TABLE kpi.dim_metric ADD COLUMN x INT", "only SELECT"),
    "delete": ("DELETE FROM kpi.fct_metric_daily", "only SELECT"),
    "update": ("UPDATE kpi.fct_metric_daily SET value = 0", "only SELECT"),
    "insert": ("INSERT INTO kpi.dim_metric (metric_id) VALUES ('x')", "only SELECT"),
    "second statement": ("SELECT 1 FROM kpi.dim_metric; DELETE FROM kpi.fct_metric_daily", "exactly one statement"),
    "two selects": ("SELECT 1 FROM kpi.dim_metric; SELECT 2 FROM kpi.dim_metric", "exactly one statement"),
    "raw schema": ("SELECT text FROM raw.slack_messages", "only the kpi schema"),
    "extract schema": ("SELECT * FROM extract.ask_log", "only the kpi schema"),
    "information_schema": ("SELECT * FROM information_schema.tables", "only the kpi schema"),
    "pg_catalog": ("SELECT * FROM pg_catalog.pg_authid", "only the kpi schema"),
    "unqualified catalog table": ("SELECT * FROM pg_class", "qualify tables"),
    "another database": ("SELECT * FROM other.kpi.dim_metric", "without a database"),
    "schema in a subquery": ("SELECT * FROM kpi.dim_metric WHERE metric_id IN (SELECT x FROM raw.docs)", "raw.docs"),
    "schema in a union": ("SELECT metric_id FROM kpi.dim_metric UNION SELECT path FROM raw.docs", "raw.docs"),
    "cte out of scope": ("SELECT * FROM (WITH d AS (SELECT 1) SELECT * FROM d) q, d", "qualify tables"),
    "read_csv": ("SELECT * FROM read_csv('/etc/passwd')", "table function read_csv"),
    "read_parquet": ("SELECT * FROM read_parquet('s3://bucket/x.parquet')", "table function read_parquet"),
    "glob": ("SELECT * FROM glob('/home/*')", "table function glob"),
    "file as table": ("SELECT * FROM '/etc/passwd'", "qualify tables"),
    "read_text in select": ("SELECT (SELECT content FROM read_text('/etc/hosts'))", "table function read_text"),
    "pg_read_file": ("SELECT pg_read_file('/etc/passwd')", "pg_read_file() is not allowed"),
    "pg_sleep": ("SELECT pg_sleep(60)", "pg_sleep() is not allowed"),
    "set_config": ("SELECT set_config('search_path', 'raw', false)", "set_config() is not allowed"),
    "current_setting": ("SELECT current_setting('data_directory')", "current_setting() is not allowed"),
    "query_to_xml": ("SELECT query_to_xml('SELECT * FROM raw.docs', true, false, '')", "query_to_xml() is not"),
    "nextval": ("SELECT nextval('kpi.some_sequence')", "nextval() is not allowed"),
    "qualified function": ("SELECT pg_catalog.lower('x')", "schema-qualified functions"),
    "attach": ("ATTACH '/tmp/other.duckdb' AS other", "only SELECT"),
    "copy": ("COPY kpi.fct_metric_daily TO '/tmp/out.csv'", "only SELECT"),
    "pragma": ("PRAGMA database_list", "only SELECT"),
    "set": ("SET search_path = raw", "only SELECT"),
    "install": ("INSTALL httpfs", "only SELECT"),
    "explain": ("EXPLAIN SELECT * FROM kpi.dim_metric", "only SELECT"),
    "select into": ("SELECT * INTO kpi.copy FROM kpi.dim_metric", "not a SELECT"),
    "empty": ("  ", "empty"),
}


@pytest.mark.parametrize("sql", ALLOWED)
def test_a_select_over_kpi_passes(sql: str) -> None:
    check_select(sql)


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_everything_else_is_refused_with_the_reason(case: str) -> None:
    sql, reason = REFUSED[case]
    with pytest.raises(SqlRefused) as refused:
        check_select(sql)
    assert reason in str(refused.value) and "\n" not in str(refused.value)
