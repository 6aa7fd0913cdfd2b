"""Only http(s) links reach the warehouse: every other scheme is dropped where it is parsed."""

from __future__ import annotations

from typing import Any

import pytest

from kpi_pipeline.sources.urls import web_url


@pytest.mark.parametrize(
    "url", ["https://acme.atlassian.net/browse/PLAT-1", "http://wiki.local/status", "HTTPS://x.io"]
)
def test_web_urls_are_kept(url: str) -> None:
    assert web_url(url) == url


@pytest.mark.parametrize(
    "value",
    [
        "javascript:alert(1)",
        " JavaScript:alert(document.cookie)//https://x.io",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "//evil.example/x",
        "https://",
        "https://x.io/\nSet-Cookie: a",
        "",
        None,
        42,
        {"href": "https://x.io"},
    ],
)
def test_anything_else_is_dropped(value: Any) -> None:
    assert web_url(value) is None
