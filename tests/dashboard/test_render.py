"""The page is one self-contained file: styles, script and data inline, nothing fetched."""

from __future__ import annotations

import base64
import gzip
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser

from kpi_pipeline.dashboard.data import load_dashboard_data
from kpi_pipeline.dashboard.render import render_html
from kpi_pipeline.warehouse import Warehouse


class _Resources(HTMLParser):
    """Every attribute that could make a browser fetch something, and the inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.fetches: list[str] = []
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href", "srcset", "poster", "data"} and value:
                self.fetches.append(f"{tag} {name}={value}")
        if tag == "script":
            self.scripts.append(dict(attrs))
        if tag == "link":
            self.fetches.append(f"link {dict(attrs)}")


def test_the_page_fetches_nothing(sample_warehouse: Warehouse) -> None:
    page = render_html(load_dashboard_data(sample_warehouse))
    parser = _Resources()
    parser.feed(page)
    assert parser.fetches == []
    assert parser.scripts == [{"type": "application/json", "id": "dashboard-data"}, {}]
    assert "@import" not in page and "url(" not in page
    assert not re.search(r"\bfetch\(|XMLHttpRequest|import\(", page)


def test_the_data_element_holds_the_payload(sample_warehouse: Warehouse) -> None:
    data = load_dashboard_data(sample_warehouse)
    page = render_html(data, generated_at=datetime(2026, 10, 1, tzinfo=UTC))
    blob = page.split('<script type="application/json" id="dashboard-data">', 1)[1].split("</script>", 1)[0]
    payload = json.loads(blob)
    assert payload["quarter"]["id"] == "2026-Q3"
    assert payload["generated_at"] == "2026-10-01T00:00:00+00:00"
    assert [m["id"] for m in payload["metrics"]] == sorted(data.metrics.metric_id)
    assert "<title>KPI dashboard — 2026-Q3</title>" in page


def test_markers_inside_the_data_are_left_alone(sample_warehouse: Warehouse) -> None:
    data = load_dashboard_data(sample_warehouse)
    evidence = data.evidence.copy()
    evidence.loc[0, "quote"] = "__JS__ __CSS__ __TITLE__ __DATA__"
    page = render_html(replace(data, evidence=evidence))
    assert page.count("__JS__ __CSS__ __TITLE__ __DATA__") == 1
    assert page.count("<title>") == 1


def test_large_data_is_embedded_compressed(sample_warehouse: Warehouse) -> None:
    data = load_dashboard_data(sample_warehouse)
    plain = render_html(data, generated_at=datetime(2026, 10, 1, tzinfo=UTC))
    packed = render_html(data, generated_at=datetime(2026, 10, 1, tzinfo=UTC), compress_above=0)
    opening = '<script type="application/json" id="dashboard-data" data-encoding="gzip-base64">'
    assert opening not in plain and opening in packed
    blob = packed.split(opening, 1)[1].split("</script>", 1)[0]
    original = plain.split('id="dashboard-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(gzip.decompress(base64.b64decode(blob))) == json.loads(original)
    assert len(packed) < len(plain) / 2
