"""The digest as markdown (stored with it, shown on the dashboard) and as Slack Block Kit blocks.

Slack limits: a section's text at most 3000 characters, a message at most 50 blocks. Statements are packed into
sections under the limit; what does not fit in the blocks is counted in a last context block that points to the
dashboard, never silently dropped.
"""

from __future__ import annotations

from typing import Any

from kpi_pipeline.insights.digest import Digest, Statement

SECTION_LIMIT = 3000
MAX_BLOCKS = 50
QUOTE_LIMIT = 280  # characters of a quote shown in Slack


def title(digest: Digest) -> str:
    return f"KPI digest, week of {digest.week_start.isoformat()} to {digest.week_end.isoformat()}"


def _md_line(s: Statement) -> str:
    line = f"- {s.text}"
    if s.quote:
        source = f" ([source]({s.url}))" if s.url else ""
        line += f"\n  > {s.quote}{source}"
    return line


def digest_markdown(digest: Digest) -> str:
    parts = [f"# {title(digest)}"]
    if not digest.objectives and not any(items for _, items in digest.sections):
        parts.append("Nothing was published this week.")
    for o in digest.objectives:
        status = f" ({o.status.replace('_', ' ')})" if o.status else ""
        parts.append(f"## {o.title}{status}")
        parts += [_md_line(s) for s in o.key_results]
        if o.moves:
            parts.append("What moved:")
            parts += [_md_line(s) for s in o.moves]
    for heading, items in digest.sections:
        if items:
            parts.append(f"## {heading}")
            parts += [_md_line(s) for s in items]
    parts += [f"_{note}_" for note in digest.notes]
    return "\n\n".join(parts) + "\n"


def _escape(text: str) -> str:
    """Slack mrkdwn control characters: &, < and > must be escaped in text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_line(s: Statement) -> str:
    line = f"• {_escape(s.text)}"
    if s.quote:
        quote = s.quote if len(s.quote) <= QUOTE_LIMIT else s.quote[: QUOTE_LIMIT - 1] + "…"
        line += f"\n> _{_escape(quote)}_"
        if s.url:
            line += f" <{s.url.replace('|', '%7C').replace('>', '%3E')}|source>"
    return line[:SECTION_LIMIT]


def _sections(heading: str, lines: list[str]) -> list[dict[str, Any]]:
    """mrkdwn sections under Slack's limit: the heading, then as many lines as fit in each."""
    blocks: list[dict[str, Any]] = []
    text = f"*{_escape(heading)}*"
    for line in lines:
        if len(text) + 1 + len(line) > SECTION_LIMIT:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
            text = line
        else:
            text += "\n" + line
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    return blocks


def digest_blocks(digest: Digest) -> list[dict[str, Any]]:
    """Block Kit blocks: a header, a section per objective, then the other sections that have statements."""
    body: list[list[dict[str, Any]]] = []  # one group of blocks per heading
    for o in digest.objectives:
        status = f" ({o.status.replace('_', ' ')})" if o.status else ""
        lines = [_slack_line(s) for s in o.key_results]
        if o.moves:
            lines += ["_What moved:_"] + [_slack_line(s) for s in o.moves]
        body.append(_sections(o.title + status, lines))
    for heading, items in digest.sections:
        if items:
            body.append(_sections(heading, [_slack_line(s) for s in items]))
    if not body:
        body.append([{"type": "section", "text": {"type": "mrkdwn", "text": "Nothing was published this week."}}])
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title(digest)[:150]}}]
    flat = [block for group in body for block in group]
    room = MAX_BLOCKS - len(blocks) - 1  # one left for the notes / overflow context
    shown, left = flat[:room], len(flat) - room
    blocks += shown
    context = [_escape(n) for n in digest.notes]
    if left > 0:
        context.append(f"{left} more section(s) did not fit in one Slack message: see the dashboard's digest.")
    if context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " ".join(context)[:3000]}]})
    return blocks
