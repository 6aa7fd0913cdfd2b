"""The dashboard's digest section: the latest stored weekly digest of the quarter, rendered as static HTML.

Rendered on the server side from kpi.weekly_digest (no script needed to read it). Every text is escaped and a
link is shown only for an http(s) URL, like the evidence links everywhere else on the page.
"""

from __future__ import annotations

import html
from datetime import date

from kpi_pipeline.insights.digest import Digest, Statement
from kpi_pipeline.insights.digest_text import title
from kpi_pipeline.insights.reads import table_exists
from kpi_pipeline.warehouse import Warehouse
from kpi_pipeline.warehouse.publish import bi_url

NONE_YET = (
    '<h2>Weekly digest</h2><p class="digest-empty">No weekly digest for this quarter yet: materialize the '
    "<code>weekly_digest</code> asset for a week.</p>"
)


def latest_digest(wh: Warehouse, first: date, last: date) -> Digest | None:
    """The stored digest of the latest week starting in [first, last], if any."""
    if not table_exists(wh, "kpi", "weekly_digest"):
        return None
    df = wh.query_df(
        "SELECT digest FROM kpi.weekly_digest WHERE week_start BETWEEN ? AND ? ORDER BY week_start DESC LIMIT 1",
        [first, last],
    )
    return Digest.from_json(str(df.iat[0, 0])) if not df.empty else None


def _statement(s: Statement) -> str:
    e = html.escape
    status = f' data-status="{e(s.status)}"' if s.status else ""
    parts = [f'<li class="statement" data-metric="{e(s.metric_id)}" data-day="{e(s.day)}"{status}>{e(s.text)}']
    if s.quote:
        url = bi_url(s.url)
        link = f' <a href="{e(url)}" rel="noopener noreferrer" target="_blank">source</a>' if url else ""
        parts.append(f"<blockquote>{e(s.quote)}{link}</blockquote>")
    return "".join(parts) + "</li>"


def _list(items: tuple[Statement, ...]) -> str:
    return "<ul>" + "".join(_statement(s) for s in items) + "</ul>"


def digest_html(digest: Digest | None) -> str:
    """The section's inner HTML: objectives first (off track first), then the sections that have statements."""
    if digest is None:
        return NONE_YET
    e = html.escape
    out = [f"<h2>Weekly digest <small>{e(title(digest))}</small></h2>"]
    for o in digest.objectives:
        status = f' data-status="{e(o.status)}"' if o.status else ""
        out.append(f'<div class="digest-objective" data-objective="{e(o.objective_id)}"{status}>')
        out.append(f"<h3>{e(o.title)}</h3>{_list(o.key_results)}")
        if o.moves:
            out.append(f"<h4>What moved</h4>{_list(o.moves)}")
        out.append("</div>")
    for heading, items in digest.sections:
        if items:
            out.append(f'<div class="digest-section"><h4>{e(heading)}</h4>{_list(items)}</div>')
    out += [f'<p class="digest-note">{e(n)}</p>' for n in digest.notes]
    return "".join(out)
