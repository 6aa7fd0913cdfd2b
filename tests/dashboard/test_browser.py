"""The dashboard in real headless Chromium: what a person sees and clicks, checked in the DOM."""

from __future__ import annotations

import html
import json
import re
import struct
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from kpi_pipeline.dashboard import write_page
from kpi_pipeline.dashboard.browser import dump_dom, screenshot
from kpi_pipeline.dashboard.data import load_dashboard_data
from kpi_pipeline.dashboard.render import render_html
from kpi_pipeline.quality.gate import run_gate
from kpi_pipeline.review.overrides import Override, reading_fingerprint
from kpi_pipeline.warehouse import Warehouse
from kpi_pipeline.warehouse.publish import ensure_kpi_schema, publish_catalog, publish_gate, read_metric_values
from tests.quality.synthetic import CATALOG, clean_day, store

from .cdp import Page

pytestmark = pytest.mark.usefixtures("chromium")  # installs it first where it is missing

CARDS = """[...document.querySelectorAll('#charts .kpi-card')].map(card => ({
  metric: card.dataset.metric,
  line: card.querySelector('path.line').getAttribute('d'),
  conflicts: card.querySelectorAll('.mark-conflict').length,
  held: card.querySelectorAll('.mark-quarantine').length,
  confidence: card.querySelectorAll('rect.conf').length,
  targets: card.querySelectorAll('line.ref-target').length,
}))"""
PANEL = """(() => { const p = document.getElementById('evidence'); return {
  hidden: p.hidden, metric: p.dataset.metric, day: p.dataset.day, text: p.innerText,
  quotes: [...p.querySelectorAll('.quotes > .quote blockquote')].map(q => q.textContent),
  links: [...p.querySelectorAll('.quote a')].map(a => a.getAttribute('href')),
  sides: p.querySelectorAll('.conflict .side').length,
  reasons: [...p.querySelectorAll('.reasons li')].map(li => li.textContent),
  reasoning: [...p.querySelectorAll('.reasoning')].map(r => r.textContent) }; })()"""


def _first(wh: Warehouse, sql: str) -> tuple[str, date]:
    row = wh.query_df(sql).iloc[0]
    return str(row.metric_id), pd.Timestamp(row.day).date()


def test_okr_tree_shows_each_key_result_with_the_views_progress_and_status(
    browser: Page, sample_page: Path, sample_warehouse: Warehouse
) -> None:
    browser.goto(sample_page.as_uri())
    shown = browser.eval(
        """[...document.querySelectorAll('#okr-tree .kr')].map(k => ({
          objective: k.closest('.objective').dataset.objective, metric: k.dataset.metric, status: k.dataset.status,
          progress: k.querySelector('.progress').textContent, expected: k.querySelector('.expected-text').textContent,
          fill: k.querySelector('.fill').style.width, marker: !!k.querySelector('.bar .expected') }))"""
    )
    view = sample_warehouse.query_df(
        "SELECT objective_id, metric_id, progress, expected_progress, status FROM kpi.okr_progress "
        "WHERE day = DATE '2026-09-30' ORDER BY objective_id, key_result_no"
    )
    assert len(shown) == len(view) == 8
    for kr, row in zip(shown, view.itertuples(index=False), strict=True):
        assert (kr["objective"], kr["metric"], kr["status"]) == (row.objective_id, row.metric_id, row.status)
        assert kr["progress"] == f"progress {round(row.progress * 100)}%"
        assert kr["expected"] == "expected 100%"
        assert kr["fill"] == f"{min(max(row.progress, 0), 1) * 100:.1f}%"
        assert kr["marker"]
    titles = browser.eval("[...document.querySelectorAll('#okr-tree .objective h3')].map(h => h.textContent)")
    assert "Make the public API boringly reliable" in titles
    assert browser.eval("document.getElementById('error').hidden") is True


def test_a_trend_chart_per_kpi_marks_conflicts_quarantine_and_confidence(
    browser: Page, sample_page: Path, sample_warehouse: Warehouse
) -> None:
    browser.goto(sample_page.as_uri())
    cards = {c["metric"]: c for c in browser.eval(CARDS)}
    counts = sample_warehouse.query_df(
        "SELECT m.metric_id, "
        "(SELECT COUNT(*) FROM kpi.fct_metric_daily f WHERE f.metric_id = m.metric_id) AS published, "
        "(SELECT COUNT(*) FROM kpi.fct_metric_daily f WHERE f.metric_id = m.metric_id AND status = 'conflict') "
        "  AS conflicts, "
        "(SELECT COUNT(*) FROM kpi.metric_quarantine q WHERE q.metric_id = m.metric_id) AS held "
        "FROM kpi.dim_metric m"
    )
    assert set(cards) == set(counts.metric_id)
    for row in counts.itertuples(index=False):
        card = cards[row.metric_id]
        assert card["line"].startswith("M") and card["line"].count("L") > row.published // 2
        assert card["conflicts"] == row.conflicts
        assert card["held"] == row.held
        assert card["confidence"] == row.published + row.held
        assert card["targets"] == 1  # every sample KPI is a key result
    assert sum(c["conflicts"] for c in cards.values()) > 0 and sum(c["held"] for c in cards.values()) > 0
    bars = browser.eval("document.querySelectorAll('#costs rect.bar-cost').length")
    assert bars == 92
    rows = browser.eval("document.querySelectorAll('#quarantine tbody tr').length")
    assert rows == sample_warehouse.scalar("SELECT COUNT(*) FROM kpi.metric_quarantine")


def test_a_point_in_the_url_opens_its_evidence_and_reasoning(sample_page: Path, sample_warehouse: Warehouse) -> None:
    metric, day = _first(
        sample_warehouse, "SELECT metric_id, day FROM kpi.fct_metric_daily WHERE status = 'conflict' ORDER BY day"
    )
    dom = dump_dom(sample_page.as_uri() + f"#metric={metric}&day={day.isoformat()}")
    panel = re.search(r'<aside id="evidence"([^>]*)>(.*?)</aside>', dom, re.S)
    assert panel is not None
    attributes, body = panel.groups()
    assert "hidden" not in attributes
    assert f'data-metric="{metric}"' in attributes and f'data-day="{day.isoformat()}"' in attributes
    quotes = sample_warehouse.query_df(
        "SELECT quote, url FROM kpi.fct_metric_evidence WHERE metric_id = ? AND day = ? ORDER BY evidence_no",
        [metric, day],
    )
    for quote in quotes.itertuples(index=False):
        assert f"<blockquote>{html.escape(quote.quote, quote=False)}</blockquote>" in body
        assert f'href="{quote.url}"' in body
    reasoning = sample_warehouse.scalar(
        "SELECT reasoning FROM extract.metric_values WHERE metric_id = ? AND day = ?", [metric, day]
    )
    assert f'<p class="reasoning">{html.escape(reasoning, quote=False)}</p>' in body
    assert body.count('class="side"') == 2  # both sides of the conflict


def test_a_quarantined_day_shows_what_was_held_back_and_why(
    browser: Page, sample_page: Path, sample_warehouse: Warehouse
) -> None:
    metric, day = _first(sample_warehouse, "SELECT metric_id, day FROM kpi.metric_quarantine ORDER BY day DESC")
    browser.goto(sample_page.as_uri() + f"#metric={metric}&day={day.isoformat()}")
    panel = browser.eval(PANEL)
    reasons = sample_warehouse.scalar(
        "SELECT reasons FROM kpi.metric_quarantine WHERE metric_id = ? AND day = ?", [metric, day]
    )
    assert not panel["hidden"] and (panel["metric"], panel["day"]) == (metric, day.isoformat())
    assert "Held back by the quality gate".upper() in panel["text"].upper()
    assert panel["reasons"] == json.loads(reasons)
    assert panel["quotes"] and panel["reasoning"][0]


def test_clicking_a_conflict_marker_opens_that_day(browser: Page, sample_page: Path) -> None:
    browser.goto(sample_page.as_uri() + "#kpi=api_error_rate")
    marker = browser.eval(
        """(() => { const m = document.querySelector('.kpi-card[data-metric="api_error_rate"] .mark-conflict');
        m.scrollIntoView({block: 'center'}); const r = m.getBoundingClientRect();
        return {x: r.x + r.width / 2, y: r.y + r.height / 2, day: m.dataset.day}; })()"""
    )
    browser.click(marker["x"], marker["y"])
    panel = browser.eval(PANEL)
    assert not panel["hidden"] and (panel["metric"], panel["day"]) == ("api_error_rate", marker["day"])
    assert panel["sides"] == 2
    assert browser.eval("location.hash") == f"#kpi=api_error_rate&metric=api_error_rate&day={marker['day']}"
    browser.eval("document.querySelector('#evidence .close').click()")
    assert browser.eval("document.getElementById('evidence').hidden") is True


def test_filters_and_zoom_narrow_every_section(browser: Page, sample_page: Path, sample_warehouse: Warehouse) -> None:
    browser.goto(sample_page.as_uri() + "#objective=reliable_api&from=2026-08-01&to=2026-08-31")
    assert browser.eval("[...document.querySelectorAll('#okr-tree .objective')].map(o => o.dataset.objective)") == [
        "reliable_api"
    ]
    metrics = browser.eval("[...document.querySelectorAll('#charts .kpi-card')].map(c => c.dataset.metric)")
    assert metrics == ["api_error_rate", "p95_latency_ms", "uptime_percent"]
    assert browser.eval("document.querySelectorAll('#costs rect.bar-cost').length") == 31
    days = browser.eval("[...document.querySelectorAll('#quarantine tbody tr')].map(r => r.dataset.day)")
    assert all("2026-08-01" <= d <= "2026-08-31" for d in days)
    assert browser.eval("document.getElementById('filter-from').value") == "2026-08-01"
    # dragging across a chart zooms further
    box = browser.eval(
        """(() => { const r = document.querySelector('.kpi-card .overlay').getBoundingClientRect();
        return {left: r.left, width: r.width, y: r.top + r.height / 3}; })()"""
    )
    browser.drag(box["left"] + box["width"] * 0.25, box["left"] + box["width"] * 0.75, box["y"])
    zoomed = browser.eval("[document.getElementById('filter-from').value, document.getElementById('filter-to').value]")
    assert "2026-08-06" <= zoomed[0] <= "2026-08-10" and "2026-08-21" <= zoomed[1] <= "2026-08-25"
    assert browser.eval("document.getElementById('evidence').hidden") is True  # a drag is not a click


def test_text_from_sources_is_shown_as_text(browser: Page, sample_warehouse: Warehouse, tmp_path: Path) -> None:
    data = load_dashboard_data(sample_warehouse)
    evidence = data.evidence.copy()
    hostile = '<img id="pwned" src="x" onerror="document.title=1"></script>'
    evidence.loc[0, "quote"] = hostile
    evidence.loc[0, "url"] = "javascript:alert(1)"
    page = write_page(tmp_path / "hostile.html", render_html(replace(data, evidence=evidence)))
    row = evidence.iloc[0]
    browser.goto(page.as_uri() + f"#metric={row.metric_id}&day={row.day.isoformat()}")
    panel = browser.eval(PANEL)
    assert panel["quotes"][0] == hostile
    assert "javascript:alert(1)" not in panel["links"]
    assert browser.eval("document.getElementById('pwned')") is None


MOVES = """Object.fromEntries([...document.querySelectorAll('#charts .kpi-card')].map(card => {
  const move = card.querySelector('.latest .move');
  return [card.dataset.metric, { tone: move.dataset.tone, color: getComputedStyle(move).color, text: move.textContent,
    counts: card.querySelector('.counts').textContent }];
}))"""


def test_the_latest_move_is_green_the_good_way_red_the_bad_way_grey_when_direction_is_unknown(
    browser: Page, sample_warehouse: Warehouse, tmp_path: Path
) -> None:
    data = load_dashboard_data(sample_warehouse)
    facts = data.facts.copy()
    for metric_id in ("api_error_rate", "mrr_usd", "nps"):  # each falls on its last published day
        previous, last = facts.index[facts.metric_id == metric_id][-2:]
        facts.loc[last, "value"] = facts.loc[previous, "value"] - 1
    metrics = data.metrics.copy()
    metrics.loc[metrics.metric_id == "nps", "direction"] = "unknown"
    page = write_page(tmp_path / "moves.html", render_html(replace(data, facts=facts, metrics=metrics)))
    browser.goto(page.as_uri())
    moves = browser.eval(MOVES)
    assert (moves["api_error_rate"]["tone"], moves["api_error_rate"]["color"]) == ("good", "rgb(26, 127, 55)")
    assert (moves["mrr_usd"]["tone"], moves["mrr_usd"]["color"]) == ("bad", "rgb(207, 34, 46)")
    assert (moves["nps"]["tone"], moves["nps"]["color"]) == ("neutral", "rgb(140, 149, 159)")
    assert all(moves[m]["text"].startswith("▼ from ") for m in ("api_error_rate", "mrr_usd", "nps"))
    assert "lower is better" in moves["api_error_rate"]["counts"] and "direction unknown" in moves["nps"]["counts"]


def test_a_compressed_page_renders_the_same(browser: Page, sample_warehouse: Warehouse, tmp_path: Path) -> None:
    data = load_dashboard_data(sample_warehouse)
    page = write_page(tmp_path / "packed.html", render_html(data, compress_above=0))
    metric, day = _first(sample_warehouse, "SELECT metric_id, day FROM kpi.fct_metric_daily ORDER BY day DESC")
    browser.goto(page.as_uri() + f"#metric={metric}&day={day.isoformat()}")
    assert browser.eval("document.querySelectorAll('#okr-tree .kr').length") == 8
    assert len(browser.eval(CARDS)) == 8
    assert browser.eval(PANEL)["day"] == day.isoformat()


def test_screenshot(sample_page: Path, tmp_path: Path) -> None:
    png = screenshot(sample_page.as_uri(), tmp_path / "dashboard.png", width=1400, height=2000)
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (1400, 2000)
    assert png.stat().st_size > 100_000  # a rendered page, not a blank one


RESTATED = """[...document.querySelectorAll('#evidence .restated')].map(p => p.textContent)"""


def test_the_evidence_panel_shows_an_overridden_and_a_restated_value(
    browser: Page, warehouse: Warehouse, tmp_path: Path
) -> None:
    """A real publish, then a republish with a reviewer's `set` on one metric and a changed reading of another."""
    days = [date(2026, 7, 1), date(2026, 7, 2)]
    first, second = datetime(2026, 7, 3, 6, 0, tzinfo=UTC), datetime(2026, 7, 9, 6, 0, tzinfo=UTC)
    rows = pd.concat([clean_day(d) for d in days], ignore_index=True)
    store(warehouse, rows, days)
    ensure_kpi_schema(warehouse)
    publish_catalog(warehouse, CATALOG)
    publish_gate(warehouse, run_gate(read_metric_values(warehouse, days), CATALOG, days), "run-1", first)
    reading = rows[(rows.metric_id == "api_error_rate") & (rows.day == days[0])].iloc[0]
    corrected = Override(
        "api_error_rate", days[0], "set", 2.5, "double counted retries", "alice", second,
        reading_fingerprint(reading.value, reading.evidence),
    )  # fmt: skip
    rows.loc[(rows.metric_id == "p95_latency_ms") & (rows.day == days[1]), "value"] = 350.0
    store(warehouse, rows, days)
    gate = run_gate(read_metric_values(warehouse, days), CATALOG, days)
    publish_gate(warehouse, gate, "run-2", second, overrides=[corrected], trigger="backfill")
    page = write_page(tmp_path / "index.html", render_html(load_dashboard_data(warehouse)))

    browser.goto(page.as_uri() + "#metric=api_error_rate&day=2026-07-01")
    panel = browser.eval(PANEL)
    assert (panel["metric"], panel["day"]) == ("api_error_rate", "2026-07-01")
    assert browser.eval("document.querySelector('#evidence .pill').textContent") == "overridden"
    [overridden] = browser.eval(RESTATED)
    assert overridden.startswith("restated on 2026-07-09 (was 3")
    assert "override: set to 2.5 by alice on 2026-07-09: double counted retries" in overridden
    assert panel["quotes"] == ["api_error_rate is 3.0 today"]  # the evidence is kept

    browser.goto(page.as_uri() + "#metric=p95_latency_ms&day=2026-07-02")
    [restated] = browser.eval(RESTATED)
    assert restated.startswith("restated on 2026-07-09 (was 300") and restated.endswith("· backfill")
    browser.goto(page.as_uri() + "#metric=p95_latency_ms&day=2026-07-01")
    assert browser.eval(RESTATED) == []  # unchanged values say nothing
