"""Is every number in Claude's answer one the tools returned? A number the published data did not give is
a guess (or arithmetic the reader cannot check), so such an answer is not printed."""

from __future__ import annotations

import re
from collections.abc import Iterable

_ISO_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
# a number not glued to a word before it (KR1, p95, v2 are names, not numbers); 12,700 is one number
_NUMBER = re.compile(r"(?<![A-Za-z_\d.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")


def numbers_in(text: str) -> set[float]:
    """Magnitudes of the numbers written in `text`, days (YYYY-MM-DD) left out."""
    return {abs(float(m.group(0).replace(",", ""))) for m in _NUMBER.finditer(_ISO_DAY.sub(" ", text))}


def unsupported_numbers(answer: str, sources: Iterable[str]) -> list[float]:
    """The numbers of `answer` found in none of `sources` (tool results, the question), in ascending order."""
    known: set[float] = set()
    for source in sources:
        known |= numbers_in(source)
        known |= {abs(float(n)) for n in re.findall(r"\d+(?:\.\d+)?", _ISO_DAY.sub(" ", source))}
    return sorted(n for n in numbers_in(answer) if not any(abs(n - k) <= 1e-9 * max(1.0, k) for k in known))
