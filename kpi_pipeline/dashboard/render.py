"""The dashboard as one self-contained HTML string: template, styles, script and data inlined.

Nothing is fetched when the file is opened (no CDN, no fonts, no images), so it can be mailed, archived
or opened from a Dagster metadata link offline. The page's files ship inside the package.
"""

from __future__ import annotations

import base64
import gzip
import html
import re
from datetime import datetime
from importlib import resources

from kpi_pipeline.dashboard.data import DashboardData
from kpi_pipeline.dashboard.digest import digest_html
from kpi_pipeline.dashboard.payload import build_payload, payload_json

STATIC = resources.files("kpi_pipeline.dashboard") / "static"
MARKER = re.compile(r"__(?:TITLE|CSS|JS|ENCODING|DATA|DIGEST)__")
COMPRESS_ABOVE = 1_000_000  # bytes of JSON; above this the data is embedded gzip-compressed (about 5x smaller)


def _static(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def _embedded(text: str, compress_above: int) -> tuple[str, str]:
    """(encoding attribute, element text): plain JSON, or gzip + base64 when it is large (no `<` either way)."""
    if len(text) <= compress_above:
        return "", text
    packed = gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)
    return ' data-encoding="gzip-base64"', base64.b64encode(packed).decode("ascii")


def render_html(data: DashboardData, generated_at: datetime | None = None, compress_above: int = COMPRESS_ABOVE) -> str:
    """The page for `data`; the data travels as JSON in a <script type="application/json"> element."""
    title = html.escape(f"KPI dashboard — {data.quarter}")
    encoding, blob = _embedded(payload_json(build_payload(data, generated_at)), compress_above)
    parts = {
        "__TITLE__": title,
        "__CSS__": _static("dashboard.css"),
        "__JS__": _static("dashboard.js"),
        "__ENCODING__": encoding,
        "__DATA__": blob,
        "__DIGEST__": digest_html(data.digest),
    }
    # one pass over the template: text inserted for one marker is never scanned for another
    return MARKER.sub(lambda match: parts[match.group(0)], _static("template.html"))
