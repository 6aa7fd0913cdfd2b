"""Text as quotes are compared, and where a quote sits in its source.

A quote matches its source whatever the entities, Slack or markdown markup, typography, case and spacing
("error rate is at 3.4%" finds "*Error rate* is at 3.4%"). `locate` maps the match back to the exact span of
the source, so what is published as evidence is the source's text, never the model's copy of it.
"""

from __future__ import annotations

import html
import re

_SLACK_LINK = re.compile(r"<(?:[^|<>]+)\|([^<>]+)>")
_ANGLE_LINK = re.compile(r"<((?:https?|mailto|slack):[^<>|]+)>")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);")
_MARKUP = frozenset("*_~`>#")
_TYPOGRAPHY = {"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "−": "-"}
_TRIM = " .,;:!?\"'()[]-"


def _normalized(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The normalised text and, for each of its characters, the span of `text` it comes from."""
    out: list[str] = []
    spans: list[tuple[int, int]] = []

    def emit(chars: str, start: int, end: int) -> None:
        for ch in chars:
            ch = _TYPOGRAPHY.get(ch, ch)
            if ch in _MARKUP:
                continue
            if ch.isspace():
                if out and out[-1] != " ":
                    out.append(" ")
                    spans.append((start, end))
                continue
            for lower in ch.lower():
                out.append(lower)
                spans.append((start, end))

    i = 0
    while i < len(text):
        link = _SLACK_LINK.match(text, i) or _ANGLE_LINK.match(text, i)
        if link:
            for k in range(link.start(1), link.end(1)):
                emit(text[k], k, k + 1)
            i = link.end()
            continue
        entity = _ENTITY.match(text, i)
        if entity and (decoded := html.unescape(entity.group(0))) != entity.group(0):
            emit(decoded, i, entity.end())
            i = entity.end()
            continue
        emit(text[i], i, i + 1)
        i += 1
    while out and out[-1] == " ":
        out.pop()
        spans.pop()
    while out and out[0] == " ":
        out.pop(0)
        spans.pop(0)
    return "".join(out), spans


def normalize_text(text: str) -> str:
    """Text as compared for quotes: entities decoded, Slack/markdown markup and case and spacing ignored."""
    return _normalized(text)[0]


def locate(quote: str, source_text: str) -> tuple[int, int] | None:
    """(start, end) of `quote` in `source_text` as compared by `normalize_text`, or None if it is not there."""
    needle = normalize_text(quote).strip(_TRIM)
    if not needle:
        return None
    haystack, spans = _normalized(source_text)
    at = haystack.find(needle)
    if at < 0:
        return None
    return spans[at][0], spans[at + len(needle) - 1][1]
