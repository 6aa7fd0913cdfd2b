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
from collections.abc import Iterable, Mapping, Sequence
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
_STEM_OF_WORD = re.compile(rf"([A-Za-z0-9]{{1,{_STEM}}})[A-Za-z0-9]*")  # a word, capturing its `stem` but for case


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
    words an ASCII text must contain for it to match (see `text_names`)."""
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
    return list(text_names(_name_index((names_of(metric),)), text).mentions.get(0, ()))


def names_metric(metric: Metric, text: str) -> bool:
    """`text` speaks of the metric: a mention, or (for table context) all words of one of its names."""
    return 0 in text_names(_name_index((names_of(metric),)), text).named


def cell_score(metric: Metric, words: Iterable[str]) -> tuple[int, int]:
    """(words of the longest name matched as a bag, 0 if none; description words present minus negated ones)."""
    stems = {stem(w) for w in words}
    named = max((len(s) for s in _name_word_sets(metric) if s <= stems), default=0)
    positive, negative = description_terms(metric)
    return named, len(positive & stems) - len(negative & stems)


@dataclass(frozen=True)
class TextNames:
    """What one text says of the metrics of a `NameIndex`, by their position in it."""

    mentions: Mapping[int, tuple[Mention, ...]]  # the metrics it mentions (`metric_mentions`), in index order
    named: frozenset[int]  # those and the metrics all words of one of whose names it holds (`names_metric`)


class NameIndex:
    """Many metrics' names compiled together, so that a text is matched against all of them at once.

    A strong mention starts where a word starts (the patterns' look-behind) and begins with the first word of its
    name, so in an ASCII text (see `text_names`) a pattern runs only when one scan of the text for every
    pattern's first word found its own. Weak mentions and names as a bag of words are looked up from the text's
    stems. The cost grows with the text's words and the names they hit, not with the number of metrics.
    """

    def __init__(self, names: Sequence[Names]) -> None:
        self.patterns = tuple(_patterns(n) for n in names)
        self.keywords = tuple(_description_terms(n[2])[0] for n in names)
        self.every_pattern = [(m, n) for m, patterns in enumerate(self.patterns) for n in range(len(patterns))]
        firsts: dict[str, list[tuple[int, int]]] = {}
        for metric, number in self.every_pattern:
            firsts.setdefault(self.patterns[metric][number][1][0], []).append((metric, number))
        # the scan finds the longest first word at a word start; shorter ones there are its prefixes
        self.first_word = re.compile(
            r"(?<![a-z0-9])(?:" + "|".join(re.escape(w) for w in sorted(firsts, key=len, reverse=True)) + ")"
            if firsts
            else r"(?!)"
        )
        self.by_first_word = {
            word: tuple(sorted(p for prefix, at in firsts.items() if word.startswith(prefix) for p in at))
            for word in firsts
        }
        self.by_keyword: dict[str, list[int]] = {}
        for metric, keywords in enumerate(self.keywords):
            for key in keywords:
                self.by_keyword.setdefault(key, []).append(metric)
        self.by_name_stem: dict[str, list[tuple[int, frozenset[str]]]] = {}  # a stem of each name -> (metric, name)
        for metric, (metric_id, aliases, _) in enumerate(names):
            for name in _word_sets(metric_id, aliases):
                self.by_name_stem.setdefault(min(name), []).append((metric, name))
        self.keywords_known, self.name_stems = frozenset(self.by_keyword), frozenset(self.by_name_stem)


def name_index(metrics: Sequence[Metric]) -> NameIndex:
    """The `NameIndex` of `metrics`, built once per list of names."""
    return _name_index(tuple(names_of(m) for m in metrics))


@lru_cache(maxsize=1_024)
def _name_index(names: tuple[Names, ...]) -> NameIndex:
    return NameIndex(names)


@lru_cache(maxsize=65_536)
def text_names(index: NameIndex, text: str) -> TextNames:
    """Which of `index`'s metrics `text` mentions or names, computed once per text: selection, plausibility
    and the offline extractor ask of the same texts."""
    lowered = text.lower() if text.isascii() else None
    if lowered is None:  # Unicode case folding matches more than `str.lower` shows: every pattern runs
        runnable: Iterable[tuple[int, int]] = index.every_pattern
    else:
        hits = index.first_word.findall(lowered)
        runnable = sorted({p for word in set(hits) for p in index.by_first_word[word]}) if hits else ()
    mentions: dict[int, tuple[Mention, ...]] = {}
    for metric, number in runnable:
        pattern, words = index.patterns[metric][number]
        if lowered is not None and not all(w in lowered for w in words[1:]):
            continue
        found = tuple(Mention(m.start(), m.end(), True) for m in pattern.finditer(text))
        if found:
            mentions[metric] = mentions.get(metric, ()) + found
    present = _stems(text)
    shared_keywords, name_stems = present & index.keywords_known, present & index.name_stems
    if not mentions and not shared_keywords and not name_stems:
        return _NOTHING
    shared: dict[int, int] = {}
    for key in shared_keywords:
        for metric in index.by_keyword[key]:
            shared[metric] = shared.get(metric, 0) + 1
    for metric, count in shared.items():
        keywords = index.keywords[metric]
        if metric not in mentions and count >= min(2, len(keywords)):
            spans = _WORD.finditer(text)
            mentions[metric] = tuple(Mention(w.start(), w.end(), False) for w in spans if stem(w.group(0)) in keywords)
    bagged = {m for key in name_stems for m, name in index.by_name_stem[key] if name <= present}
    return TextNames(dict(sorted(mentions.items())), frozenset(mentions.keys() | bagged))


_NOTHING = TextNames({}, frozenset())


@lru_cache(maxsize=16_384)
def _stems(text: str) -> frozenset[str]:
    """The stems of `text`'s words, the same for every index that asks."""
    return frozenset(map(str.lower, _STEM_OF_WORD.findall(text)))
