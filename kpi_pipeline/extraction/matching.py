"""Does a piece of text speak of a metric? Matching by aliases, id and the words of the description.

Selection, the offline extractor and grounding all ask this, so they share one answer:

- A strong mention is an alias or the id as words ("api error rate"; the last two words of an id of three or
  more: "error rate"), singular or plural, in
  any case, with `_`, `-`, `/` or spaces between its words.
- A weak mention is made of the description's words: at least two different content words of it (words of
  four letters or more that are not stop words, compared by their first six letters, so "regressed" meets
  "regressions"), or all of them when it has fewer than two. Words after "not", "never", "except" or
  "excluding" in the description say where the metric is NOT, so they are left out.
- In a table, a cell's words (caption, column header, row label) are compared as a bag: an alias or the id
  matches when all its words are among them, in any order. `cell_score` returns how specific that match is
  (the number of words of the longest alias matched) and how many description words agree, minus those of
  the negated part.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from kpi_pipeline.catalog import Metric

_STOPWORD_TEXT = (
    "a an the of in on at to for from by with and or per as is are was be this that our their its we it share "
    "number count rate total average mean value percent percentage time day days week daily weekly production "
    "requests measured over how many much which what when where who report reports listed lists"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_UNIT_WORD_TEXT = "ms s sec pct percent usd hours hrs h min minutes days count ratio pp"
_UNIT_WORDS = frozenset(_UNIT_WORD_TEXT.split())
_WORD = re.compile(r"[A-Za-z0-9]+")
_NEGATION = re.compile(r"\b(?:not|never|except|excluding)\b", re.IGNORECASE)
_STEM = 6


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    strong: bool


def stem(word: str) -> str:
    return word.lower()[:_STEM]


def words_of(text: str) -> list[str]:
    return _WORD.findall(text)


Names = tuple[str, tuple[str, ...], str]  # what matching reads of a metric: id, aliases, description


def names_of(metric: Metric) -> Names:
    """The cache key of a metric's matching: hashing three strings is far cheaper than hashing the model."""
    return metric.id, metric.aliases, metric.description


@lru_cache(maxsize=512)
def _patterns(names: Names) -> tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]:
    """Strong mention patterns (aliases, the id as words, the id without unit words), each with the lower-case
    words an ASCII text must contain for it to match (see `_ascii_lowered`)."""
    metric_id, aliases, _ = names
    phrases = [a for a in aliases if a.strip()]
    id_words = [w for w in metric_id.split("_") if w]
    content = [w for w in id_words if w not in _UNIT_WORDS]
    phrases.append(" ".join(id_words))
    if len(content) >= 2 and content != id_words:
        phrases.append(" ".join(content))
    if len(content) >= 3:
        phrases.append(" ".join(content[-2:]))  # api_error_rate is also "error rate"
    return tuple(p for p in (_phrase_pattern(p) for p in dict.fromkeys(phrases)) if p is not None)


def _phrase_pattern(phrase: str) -> tuple[re.Pattern[str], tuple[str, ...]] | None:
    words = _WORD.findall(phrase)
    if not words:
        return None
    last = words[-1]
    if len(last) > 4 and last.lower().endswith("s") and not last.lower().endswith("ss"):
        words[-1] = last[:-1]  # "regressions" also matches "1 Regression"
    body = r"[\s_\-/]*".join(re.escape(w) for w in words)
    pattern = re.compile(rf"(?<![A-Za-z0-9.@]){body}(?:e?s)?(?![A-Za-z0-9])", re.IGNORECASE)
    return pattern, tuple(dict.fromkeys(w.lower() for w in words))


@lru_cache(maxsize=16_384)
def _ascii_lowered(text: str) -> str | None:
    """`text` in lower case when it is ASCII, else None. A pattern's words are ASCII, and in ASCII text a
    case-insensitive match is a lower-case one, so a pattern whose words are not all in it cannot match:
    most texts are ruled out for most metrics without running a regex. Other text runs every pattern (Unicode
    case folding matches more than `str.lower` says)."""
    return text.lower() if text.isascii() else None


def description_terms(metric: Metric) -> tuple[frozenset[str], frozenset[str]]:
    """(stems that say what the metric is, stems of the negated part that say where it is not)."""
    return _description_terms(metric.description)


@lru_cache(maxsize=512)
def _description_terms(description: str) -> tuple[frozenset[str], frozenset[str]]:
    positive, negative = set(), set()
    for clause in re.split(r"[.;,]", description):
        parts = _NEGATION.split(clause, maxsplit=1)
        positive |= _content_stems(parts[0])
        if len(parts) > 1:
            negative |= _content_stems(parts[1])
    return frozenset(positive), frozenset(negative - positive)


def _content_stems(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text) if len(w) > 3 and w.lower() not in _STOPWORDS}


def _name_word_sets(metric: Metric) -> tuple[frozenset[str], ...]:
    """Each alias and the id, as sets of stems (for matching a bag of words)."""
    return _word_sets(metric.id, metric.aliases)


@lru_cache(maxsize=512)
def _word_sets(metric_id: str, aliases: tuple[str, ...]) -> tuple[frozenset[str], ...]:
    names = [*aliases, " ".join(metric_id.split("_"))]
    sets = (frozenset(stem(w) for w in _WORD.findall(n) if w.lower() not in _UNIT_WORDS) for n in names)
    return tuple(s for s in sets if s)


def vocabulary(metric: Metric) -> frozenset[str]:
    """Every stem that belongs to the metric's names or description."""
    return _vocabulary(names_of(metric))


@lru_cache(maxsize=512)
def _vocabulary(names: Names) -> frozenset[str]:
    metric_id, aliases, description = names
    return frozenset().union(*_word_sets(metric_id, aliases), _description_terms(description)[0])


def metric_mentions(metric: Metric, text: str) -> list[Mention]:
    """Where `text` names the metric: aliases or its id as words (strong), else description words (weak)."""
    return list(_mentions_cached(names_of(metric), text))


@lru_cache(maxsize=65_536)
def _mentions_cached(names: Names, text: str) -> tuple[Mention, ...]:
    lowered = _ascii_lowered(text)
    found = tuple(
        Mention(m.start(), m.end(), True)
        for pattern, words in _patterns(names)
        if lowered is None or (words[0] in lowered and all(w in lowered for w in words[1:]))
        for m in pattern.finditer(text)
    )
    if found:
        return found
    keywords = _description_terms(names[2])[0]
    keys, present = _word_keys(text)
    shared = keywords & present
    if not shared or len(shared) < min(2, len(keywords)):
        return ()
    return tuple(Mention(start, end, False) for start, end, key in keys if key in shared)


@lru_cache(maxsize=16_384)
def _word_keys(text: str) -> tuple[tuple[tuple[int, int, str], ...], frozenset[str]]:
    """Each word of `text` with its stem, and the set of those stems."""
    keys = tuple((m.start(), m.end(), stem(m.group(0))) for m in _WORD.finditer(text))
    return keys, frozenset(key for _, _, key in keys)


def names_metric(metric: Metric, text: str) -> bool:
    """`text` speaks of the metric: a mention, or (for table context) all words of one of its names."""
    return bool(metric_mentions(metric, text)) or cell_score(metric, words_of(text))[0] > 0


def cell_score(metric: Metric, words: Iterable[str]) -> tuple[int, int]:
    """(words of the longest name matched as a bag, 0 if none; description words present minus negated ones)."""
    stems = {stem(w) for w in words}
    named = max((len(s) for s in _name_word_sets(metric) if s <= stems), default=0)
    positive, negative = description_terms(metric)
    return named, len(positive & stems) - len(negative & stems)
