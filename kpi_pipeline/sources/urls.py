"""Links stored for BI tools: only http(s) URLs, so a `javascript:` or `data:` value in a source never becomes
a clickable link in a dashboard. Every source passes its URLs through `web_url`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

WEB_SCHEMES = frozenset({"http", "https"})


def web_url(value: Any) -> str | None:
    """`value` when it is an absolute http(s) URL with a host, else None (dropped at parse time)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or any(ord(ch) < 0x20 for ch in text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    return text if parts.scheme.lower() in WEB_SCHEMES and parts.netloc else None
