"""The dashboard's digest section: escaped text, only http(s) links, and a hint when no week was computed."""

from __future__ import annotations

from datetime import date

from kpi_pipeline.dashboard.digest import digest_html
from kpi_pipeline.insights.digest import Digest, ObjectiveDigest, Statement


def digest(*statements: Statement) -> Digest:
    objective = ObjectiveDigest("reliable", "Reliable <API>", "off_track", statements, ())
    return Digest(date(2026, 7, 13), date(2026, 7, 19), (objective,), (), (), (), (), (), ("a note",))


def test_text_is_escaped_and_unsafe_links_are_dropped() -> None:
    page = digest_html(
        digest(
            Statement("errors", "2026-07-18", "errors <b>off</b>", "it's <script>x</script>", "javascript:alert(1)"),
            Statement("latency", "2026-07-18", "latency ok", "p95 300ms", "https://x.slack.com/p1", "on_track"),
        )
    )
    assert "<script>" not in page and "&lt;script&gt;" in page and "Reliable &lt;API&gt;" in page
    assert "javascript:" not in page
    assert '<a href="https://x.slack.com/p1" rel="noopener noreferrer" target="_blank">source</a>' in page
    assert 'data-status="on_track"' in page and '<p class="digest-note">a note</p>' in page


def test_without_a_digest_the_section_says_how_to_make_one() -> None:
    assert "materialize the <code>weekly_digest</code> asset" in digest_html(None)
