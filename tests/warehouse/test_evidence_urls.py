"""kpi.fct_metric_evidence.url is a link BI tools render: it holds an http(s) URL or NULL, never a script."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from kpi_pipeline.quality.gate import run_gate
from kpi_pipeline.warehouse import Warehouse
from kpi_pipeline.warehouse.publish import bi_url, ensure_kpi_schema, publish_catalog, publish_gate, read_metric_values
from tests.quality.synthetic import CATALOG, frame, metric_row, store

DAY = date(2026, 7, 2)
URLS = [
    "https://acme.slack.com/archives/C1/p1",
    "javascript:alert(document.cookie)",
    " JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "java\tscript:alert(1)",
    "//evil.test/x",
    "http://jira.acme.test/browse/OPS-1",
    None,
]


def _published_urls(wh: Warehouse) -> list[str | None]:
    quote = "api_error_rate is 3.0 today"
    items = [
        {"source_type": "slack", "source_id": f"slack:C1:{i}", "url": url, "quote": quote}
        for i, url in enumerate(URLS, start=1)
    ]
    store(wh, frame(metric_row("api_error_rate", DAY, 3.0, evidence=json.dumps(items))), [DAY])
    ensure_kpi_schema(wh)
    publish_catalog(wh, CATALOG)
    gate = run_gate(read_metric_values(wh, [DAY]), CATALOG, [DAY])
    publish_gate(wh, gate, "run-1", datetime(2026, 7, 3, tzinfo=UTC))
    df = wh.query_df("SELECT evidence_no, url FROM kpi.fct_metric_evidence ORDER BY evidence_no")
    assert df["evidence_no"].tolist() == list(range(1, len(URLS) + 1))  # every quote is kept, links or not
    return [None if u is None or u != u else u for u in df["url"]]


def test_only_http_links_reach_the_evidence_table_on_both_engines(warehouse: Warehouse) -> None:
    assert _published_urls(warehouse) == [
        "https://acme.slack.com/archives/C1/p1",
        None,
        None,
        None,
        None,
        None,
        "http://jira.acme.test/browse/OPS-1",
        None,
    ]


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("HTTPS://Example.test/a?b=1#c", "HTTPS://Example.test/a?b=1#c"),
        ("  https://example.test/x  ", "https://example.test/x"),
        ("https:///no-host", None),
        ("https://example.test/a b", None),
        ("vbscript:msgbox(1)", None),
        ("file:///etc/passwd", None),
        ("https://[::1", None),  # unparseable
        (42, None),
        ("", None),
    ],
)
def test_bi_url_keeps_http_urls_with_a_host_only(raw: object, kept: str | None) -> None:
    assert bi_url(raw) == kept
