"""Tables in source text: markdown pipe tables and plain-text tables whose columns are tabs or wide gaps.

A report often states its numbers in a table: a header row naming the columns, then rows (one per day, per
team, or per kind of result). A cell's meaning is its column's header plus its row's label (the first cell)
plus the table's caption (the line just above it, such as "**Summary**:"). The offline extractor reads
cells through that meaning, and grounding reads a quoted row the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PIPE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_RULE_CELL = re.compile(r"^\s*:?-+:?\s*$")
_PLAIN_SPLIT = re.compile(r"\t+|\s{2,}")
# a plain-text header cell: up to four words, no digits, no sentence punctuation
_HEADER_CELL = re.compile(r"^[^\d.!?;:]+$")
_MARKUP = re.compile(r"<br\s*/?>|[*_`]+", re.IGNORECASE)
_LINK_TARGET = re.compile(r"\]\([^)\s]*\)|<?https?://\S+")


@dataclass(frozen=True)
class Cell:
    text: str
    start: int  # offsets in the source text
    end: int


@dataclass(frozen=True)
class Row:
    cells: tuple[Cell, ...]
    start: int  # the row's line in the source text
    end: int


@dataclass(frozen=True)
class Table:
    header: Row
    rows: tuple[Row, ...]
    caption: str  # the nearest non-empty line above the table, "" if none

    def column_header(self, index: int) -> str:
        return clean(self.header.cells[index].text) if index < len(self.header.cells) else ""


def clean(cell: str) -> str:
    """A cell as words: link targets, markup and <br /> removed, spacing collapsed."""
    return " ".join(_MARKUP.sub(" ", _LINK_TARGET.sub(" ", cell)).split())


def _lines(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for line in text.splitlines(keepends=True):
        spans.append((start, start + len(line.rstrip("\r\n"))))
        start += len(line)
    return spans


def _pipe_cells(text: str, start: int, end: int) -> tuple[Cell, ...]:
    line = text[start:end]
    first, last = line.index("|"), line.rindex("|")
    cells, pos = [], first + 1
    for piece in line[first + 1 : last].split("|"):
        lead = len(piece) - len(piece.lstrip())
        cells.append(Cell(piece.strip(), start + pos + lead, start + pos + lead + len(piece.strip())))
        pos += len(piece) + 1
    return tuple(cells)


def _plain_cells(text: str, start: int, end: int) -> tuple[Cell, ...]:
    line = text[start:end]
    cells, pos = [], 0
    for piece in _PLAIN_SPLIT.split(line):
        at = line.index(piece, pos) if piece else pos
        if piece.strip():
            cells.append(Cell(piece.strip(), start + at, start + at + len(piece.strip())))
        pos = at + len(piece)
    return tuple(cells)


def find_tables(text: str) -> list[Table]:
    """Every table in `text`: pipe tables (a header row, a |---| rule, rows) and plain-text ones (a header line
    of at least two short cells without digits or sentence punctuation, then lines of as many cells with a
    digit, columns split by tabs or 2+ spaces)."""
    lines = _lines(text)
    tables: list[Table] = []
    i = 0
    while i < len(lines):
        start, end = lines[i]
        if _PIPE_ROW.match(text[start:end]) and i + 1 < len(lines) and _is_rule(text, *lines[i + 1]):
            header = Row(_pipe_cells(text, start, end), start, end)
            j, rows = i + 2, []
            while j < len(lines) and _PIPE_ROW.match(text[lines[j][0] : lines[j][1]]):
                rows.append(Row(_pipe_cells(text, *lines[j]), *lines[j]))
                j += 1
            tables.append(Table(header, tuple(rows), _caption(text, lines, i)))
            i = j
            continue
        plain = _plain_table(text, lines, i)
        if plain is not None:
            tables.append(plain[0])
            i = plain[1]
            continue
        i += 1
    return tables


def _is_rule(text: str, start: int, end: int) -> bool:
    line = text[start:end]
    if not _PIPE_ROW.match(line):
        return False
    cells = line.strip().strip("|").split("|")
    return all(_RULE_CELL.match(c) for c in cells)


def _plain_table(text: str, lines: list[tuple[int, int]], i: int) -> tuple[Table, int] | None:
    start, end = lines[i]
    header_cells = _plain_cells(text, start, end)
    if len(header_cells) < 2 or "|" in text[start:end] or not all(_HEADER_CELL.match(c.text) for c in header_cells):
        return None
    if any(len(c.text.split()) > 4 for c in header_cells) or not _PLAIN_SPLIT.search(text[start:end].strip()):
        return None
    j, rows = i + 1, []
    while j < len(lines):
        cells = _plain_cells(text, *lines[j])
        if len(cells) != len(header_cells) or not any(re.search(r"\d", c.text) for c in cells):
            break
        rows.append(Row(cells, *lines[j]))
        j += 1
    if not rows:
        return None
    return Table(Row(header_cells, start, end), tuple(rows), _caption(text, lines, i)), j


def _caption(text: str, lines: list[tuple[int, int]], header_index: int) -> str:
    for k in range(header_index - 1, max(-1, header_index - 3), -1):
        line = text[lines[k][0] : lines[k][1]].strip()
        if line:
            return clean(line)
    return ""


def table_context(text: str, start: int, end: int) -> str | None:
    """What a quoted span inside a table row means: caption, column headers and the row, or None if the span
    is not inside a table's row."""
    for table in find_tables(text):
        for row in table.rows:
            if row.start <= start and end <= row.end:
                headers = " ".join(clean(c.text) for c in table.header.cells)
                return f"{table.caption} {headers} {clean(text[row.start : row.end].replace('|', ' '))}".strip()
    return None
