"""The number-reading corpus: every phrase in number_corpus/phrases.tsv reads exactly as labelled.

The phrases are copied from real text (rustc perf triage, PyPI's blog, Slack exports, Jira comments) plus
spellings the real texts lack; number_corpus/README.md gives the format, the stances and the licences.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

from kpi_pipeline.extraction.numbers import Quantity, find_quantities

CORPUS = Path(__file__).parent / "number_corpus" / "phrases.tsv"


@dataclass(frozen=True)
class Expected:
    value: float
    unit: str | None
    in_words: bool
    range: tuple[float, float] | None
    superseded: bool
    noun: str | None


def _unescape(text: str) -> str:
    return text.replace("\\\\", "\0").replace("\\t", "\t").replace("\\n", "\n").replace("\0", "\\")


def _items(expected: str) -> list[Expected]:
    if expected.strip() == "-":
        return []
    items: list[Expected] = []
    for item in expected.split(" ; "):
        value_text, *rest = item.split()
        in_words = value_text.startswith("words:")
        value_text = value_text.removeprefix("words:")
        noun = next((t[1:] for t in rest if t.startswith("@")), None)
        superseded = "superseded" in rest
        unit = next((t for t in rest if not t.startswith("@") and t != "superseded"), None)
        if ".." in value_text:
            low, high = (float(v) for v in value_text.split(".."))
            items += [Expected(v, unit, in_words, (low, high), superseded, noun) for v in (low, high)]
        else:
            items.append(Expected(float(value_text), unit, in_words, None, superseded, noun))
    return items


def _rows() -> list[tuple[str, str, str]]:
    lines = [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return [(_unescape(r["phrase"]), r["expected"], r["source"]) for r in csv.DictReader(lines, delimiter="\t")]


ROWS = _rows()


def _read(q: Quantity) -> Expected:
    return Expected(q.value, q.unit, q.in_words, q.range, q.superseded, q.noun)


def test_the_corpus_is_large_and_mostly_real_text() -> None:
    assert len(ROWS) >= 300
    real = [r for r in ROWS if r[2] not in ("synthetic", "kpi_pipeline/demo/phrasing.py")]
    assert len(real) > len(ROWS) / 2
    assert len({phrase for phrase, _, _ in ROWS}) == len(ROWS), "a phrase is listed twice"


@pytest.mark.parametrize(("phrase", "expected", "source"), ROWS, ids=[f"{i}:{r[0][:40]}" for i, r in enumerate(ROWS)])
def test_phrase_reads_as_labelled(phrase: str, expected: str, source: str) -> None:
    want = _items(expected)
    got = [_read(q) for q in find_quantities(phrase, words=True)]
    assert len(got) == len(want), f"{phrase!r} ({source}): read {got}, expected {want}"
    for g, w in zip(got, want, strict=True):
        assert g.value == pytest.approx(w.value, rel=1e-9, abs=1e-9), (phrase, got)
        assert (g.unit, g.in_words, g.superseded, g.noun) == (w.unit, w.in_words, w.superseded, w.noun), (phrase, got)
        assert (g.range is None) == (w.range is None), (phrase, got)
        if g.range is not None and w.range is not None:
            assert g.range == pytest.approx(w.range), (phrase, got)


def test_every_number_has_its_span() -> None:
    for phrase, _, _ in ROWS:
        for q in find_quantities(phrase, words=True):
            assert phrase[q.start : q.end] == q.text
