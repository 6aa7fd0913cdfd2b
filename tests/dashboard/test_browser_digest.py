"""The dashboard shows the stored weekly digest, in real headless Chromium."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from kpi_pipeline.dashboard import build_dashboard, write_page
from kpi_pipeline.dashboard.sample import write_sample
from kpi_pipeline.demo import generate_dataset
from kpi_pipeline.insights.weekly import run_week
from kpi_pipeline.warehouse import open_warehouse
from tests.assets.test_extract_anthropic import definitions_under, materialize, pipeline_env

from .cdp import Page

WEEK = date(2026, 9, 21)
DEMO_MONDAY = date(2026, 7, 6)
DEMO_WEEK_TAGS = {
    "dagster/asset_partition_range_start": "2026-07-06",
    "dagster/asset_partition_range_end": "2026-07-12",
}


def test_the_latest_weekly_digest_of_the_quarter_is_shown_with_quotes_and_links(browser: Page, tmp_path: Path) -> None:
    wh = open_warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    write_sample(wh, n_metrics=8)
    done = run_week(wh, WEEK, datetime(2026, 9, 28, tzinfo=UTC))
    page = write_page(tmp_path / "index.html", build_dashboard(wh))
    browser.goto(page.as_uri())
    shown = browser.eval(
        """(() => { const s = document.getElementById('digest'); const r = s.getBoundingClientRect(); return {
          visible: r.height > 0 && getComputedStyle(s).display !== 'none', heading: s.querySelector('h2').innerText,
          objectives: [...s.querySelectorAll('.digest-objective')].map(o => o.dataset.objective),
          first: [...s.querySelectorAll('.digest-objective')][0].querySelector('li').dataset.status,
          quotes: s.querySelectorAll('blockquote').length,
          links: [...s.querySelectorAll('blockquote a')].map(a => a.getAttribute('href')) }; })()"""
    )
    digest = done.digest
    assert shown["visible"] and "week of 2026-09-21 to 2026-09-27" in shown["heading"]
    assert shown["objectives"] == [o.objective_id for o in digest.objectives]
    assert shown["first"] == "off_track"
    statements = [s for o in digest.objectives for s in (*o.key_results, *o.moves)]
    statements += [s for _, items in digest.sections for s in items]
    assert shown["quotes"] == sum(1 for s in statements if s.quote) > 0
    assert shown["links"] and all(link.startswith("https://") for link in shown["links"])


@pytest.mark.slow
def test_a_demo_weeks_digest_is_shown_after_the_pipeline_published_the_week(browser: Page, tmp_path: Path) -> None:
    dataset = generate_dataset(tmp_path / "demo", seed=7).out_dir
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    env = pipeline_env(dataset, url, tmp_path / "cache", KPI_LLM_BACKEND="offline")
    with definitions_under(env) as defs:
        assert materialize(defs, tags=DEMO_WEEK_TAGS).success
    wh = open_warehouse(url)
    digest = run_week(wh, DEMO_MONDAY, datetime(2026, 7, 13, tzinfo=UTC)).digest
    browser.goto(write_page(tmp_path / "index.html", build_dashboard(wh)).as_uri())
    shown = browser.eval(
        """(() => { const s = document.getElementById('digest'); return { heading: s.querySelector('h2').innerText,
          objectives: [...s.querySelectorAll('.digest-objective')].map(o => o.dataset.objective),
          quotes: s.querySelectorAll('blockquote').length }; })()"""
    )
    assert "week of 2026-07-06 to 2026-07-12" in shown["heading"]
    assert digest.objectives and shown["objectives"] == [o.objective_id for o in digest.objectives]
    assert shown["quotes"] > 0
