"""Numbers with units in free text, and conversion to a metric's unit: the one place numbers are read.

Extraction and grounding must agree on what "a number in the text" is, so both use this module; the corpus
in tests/extraction/number_corpus/ pins its readings on phrases copied from real text.

What counts as a number:
- Digits, with an optional sign (`-`, `+`, the minus sign `−`) and decimal point. Thousands may be grouped
  with a comma, a space, a thin or no-break space, or an apostrophe ("12,400", "11 900", "1'234"), one
  separator throughout and groups of exactly three digits.
- Decimal commas are not read: "3,5" states neither 3.5 nor 35 in English text, so it yields no number
  (and nothing after its comma is read as a number of its own). A reading that needs it abstains.
- Suffix multipliers k, M, B, bn, million, ... ("$1.2M", "3.9 million"); "m" after a currency is millions.
- Units written next to the number: %, percent, percentage points (pp, a different family from percent),
  durations (ms, s, min/m, h, d, w), and currencies as symbols or codes before or after the number
  ("$", "US$", "€", "£", "EUR 1.2M", "970,000 USD"). A currency is a unit family of its own: it never
  converts into another currency (an EUR figure is not a reading of a USD metric).
- Durations in parts are one number ("1h 12m", "2 hours 15 minutes", "3d 4h").
- Ranges ("[0.1%, 1.8%]", "3–5", "between 3 and 5") give both ends, each marked with the range.
- Numbers written in words ("three percent", "twelve hundred") only when asked for (`words=True`), marked
  `in_words`: the extractor may read them, but grounding wants a numeral in the quote.
- A bare number followed by a noun counts that noun ("3 Regressions": `noun` is "regressions").
Digits inside identifiers and dates (PLAT-12, p95, v1.2.3, 2026-07-03, April 20, 2023, 14:30, #1190, [^1]),
ordinals and adjectives such as "7-day" or "2FA" are not numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from kpi_pipeline.extraction.injection import lower_as_ignorecase

# unit family -> {spelling: factor to the family's base unit}
_TIME = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_UNIT_WORDS: dict[str, tuple[str, str]] = {}  # lower-case spelling -> (family, canonical unit)


def _spell(family: str, canonical: str, *spellings: str) -> None:
    for s in (canonical, *spellings):
        _UNIT_WORDS[s] = (family, canonical)


_spell("percent", "percent", "%", "pct", "per cent", "percents")
_spell("pp", "pp", "p.p.", "percentage points", "percentage point", "ppt", "ppts", "percent points")
_spell("time", "ms", "msec", "msecs", "millisecond", "milliseconds")
_spell("time", "s", "sec", "secs", "second", "seconds")
_spell("time", "min", "mins", "minute", "minutes", "m")
_spell("time", "h", "hr", "hrs", "hour", "hours")
_spell("time", "d", "day", "days")
_spell("time", "w", "wk", "wks", "week", "weeks")
_spell("usd", "usd", "$", "dollar", "dollars", "us$", "us dollars")
_spell("eur", "eur", "€", "euro", "euros")
_spell("gbp", "gbp", "£", "pound", "pounds", "pounds sterling")
_spell("cad", "cad", "ca$", "c$", "canadian dollars")
_spell("aud", "aud", "a$", "au$", "australian dollars")
_spell("chf", "chf", "swiss francs")
_spell("jpy", "jpy", "¥", "yen")

_MULTIPLIERS = {
    "k": 1e3,
    "K": 1e3,
    "thousand": 1e3,
    "M": 1e6,
    "mm": 1e6,
    "mn": 1e6,
    "million": 1e6,
    "millions": 1e6,
    "B": 1e9,
    "bn": 1e9,
    "billion": 1e9,
    "billions": 1e9,
    "T": 1e12,
    "trillion": 1e12,
}

_SYMBOLS = ("$", "€", "£", "¥")
_LONG_UNITS = sorted((s for s in _UNIT_WORDS if len(s) > 1 and s[0] not in "$€£¥"), key=len, reverse=True)
_SHORT_UNITS = sorted(s for s in _UNIT_WORDS if len(s) == 1 and s not in _SYMBOLS)
_UNIT_ALTERNATION = "|".join(re.escape(s) for s in _LONG_UNITS)
_MULT_ALTERNATION = "|".join(re.escape(s) for s in sorted(_MULTIPLIERS, key=len, reverse=True))
# before the number: a symbol, a prefixed symbol (US$) or an upper-case ISO code
_CURRENCY_PREFIX = r"(?:US\$|CA\$|AU\$|C\$|A\$|[$€£¥]|USD|EUR|GBP|CAD|AUD|CHF|JPY)\s?"
_GROUP_SEP = "[,\u2009\u202f\u00a0'’ ]"  # comma, thin, narrow no-break, no-break space, apostrophes, space

_NUMBER = re.compile(
    r"""
    (?<![A-Za-z0-9.#/:@_^−+$€£¥'’])     # not inside an identifier, path, version, time, id or [^1]
    (?<![A-Za-z_#]-)                      # PLAT-12
    (?<!\d[,\u2009\u202f\u00a0])          # not the tail of a decimal comma or of a longer grouping
    (?:(?<![\d%])(?P<sign>[-−+]))?        # "2%-4%" is a range, not minus 4
    (?P<cur>"""
    + _CURRENCY_PREFIX
    + r""")?
    (?P<num>\d{1,3}(?P<sep>"""
    + _GROUP_SEP
    + r""")\d{3}(?:(?P=sep)\d{3})*(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
    (?![\d,]\d|\.\d|[/:][A-Za-z]?\d|-[A-Za-z]|\w*\d|(?:st|nd|rd|th)\b)  # not a date, time, version, ordinal, "7-day"
    (?:\s?(?P<mult>"""
    + _MULT_ALTERNATION
    + r""")(?![A-Za-z]))?
    (?:\s?(?P<unit>%|(?i:"""
    + _UNIT_ALTERNATION
    + r""")|"""
    + "|".join(re.escape(s) for s in _SHORT_UNITS)
    + r""")(?![A-Za-z0-9]))?
    (?![A-Za-z])                          # "2FA", "3x" are words, not numbers
    """,
    re.VERBOSE,
)
_MONTHS = (
    "Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|"
    "Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?"
)
# dates (with a month's name too), times and versions: their digits are never numbers
_NOT_NUMBERS = re.compile(
    r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b\d{1,2}:\d{2}(?::\d{2})?\b|\bv?\d+\.\d+\.\d+\b"
    r"|(?<![\w-])(?=[\w.-]*\d)[A-Za-z][\w.]*(?:-[\w.]+)+"  # hyphenated ids: CVE-2024-3094, unicode-normalization-0.1.19
    rf"|\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:\s?[-–]\s?\d{{1,2}})?(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}}\b)?"  # July 11-17, 2016
    rf"|\b(?:{_MONTHS})\.?,?\s+\d{{4}}\b"  # August 2026
)
_DAY_UNITS = r"d|days?"
_HOUR_UNITS = r"h|hrs?|hours?"
_MINUTE_UNITS = r"m|mins?|minutes?"
# "2h 15m", "1 h 30 min", "3d 4h", "1 hour and 12 minutes": one duration written in parts
_COMPOUND = re.compile(
    rf"(?<![\w.])(?P<a>\d+(?:\.\d+)?)\s?(?P<ua>{_DAY_UNITS}|{_HOUR_UNITS})\s?(?:and\s)?"
    rf"(?P<b>\d+)\s?(?P<ub>{_HOUR_UNITS}|{_MINUTE_UNITS})(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_COMPOUND_START = re.compile(r"\d\s?[dhDH]")  # a number and a day or hour unit: how every compound starts
# A numeral's first digit follows neither a letter, a digit nor an id's mark (#/:@_^'), nor a dash after them
# (PLAT-12), unless a currency code (USD5): most texts' digits are in ids, mentions and links, and have no numeral.
_NUMERAL_DIGIT = re.compile(r"\d(?<![A-Za-z0-9#/:@_^'’]\d)(?<![A-Za-z_#]-\d)")
_CODE_DIGIT = re.compile(r"(?:USD|EUR|GBP|CAD|AUD|CHF|JPY)\d")
_SUFFIX_CODE = re.compile(r"\s?(?:USD|EUR|GBP|CAD|AUD|CHF|JPY)(?![A-Za-z])")
_NOUN = re.compile(r"(?:\*\*|\*|__|_)?[ \t]+(?P<noun>[A-Za-z][A-Za-z\-]*)")
# words after a bare number that are not what it counts ("3 of them", "5 today", "7 and rising")
_FUNCTION_WORD_TEXT = (
    "a an the of in on at to for from by with and or but nor per vs than as is are was were be been being "
    "this that these those it its we they i you he she our their his her my your today yesterday tomorrow now "
    "so since after before until over under about above below more less fewer which who when while if then "
    "out up down total overall left remain remaining ago each every times time so far yet still also only "
    "across into onto within without via all both either plus minus has have had do does did will would can "
    "could should may might must am pm"
)
FUNCTION_WORDS = frozenset(_FUNCTION_WORD_TEXT.split())


@dataclass(frozen=True)
class Quantity:
    """One number found in text: its value (suffix multipliers applied) and its unit, with its span."""

    value: float
    unit: str | None  # canonical unit ("percent", "ms", "h", "usd", ...) or None for a bare number
    start: int
    end: int
    text: str
    superseded: bool = False  # the "from" side of "from 15% to 3%" / "15% -> 3%": not the current value
    in_words: bool = False  # written in words ("forty-two ms"), not digits
    range: tuple[float, float] | None = None  # (low, high) when this number is one end of a range
    noun: str | None = None  # what a bare number counts: "regressions" in "3 Regressions"

    @property
    def family(self) -> str | None:
        return unit_family(self.unit)


def unit_family(unit: str | None) -> str | None:
    if unit is None:
        return None
    return _UNIT_WORDS.get(unit, ("other", unit))[0]


_TRANSITION = re.compile(r"^\s*(?:->|→|=>|➝|to|down to|up to|and now|now)\s*$", re.IGNORECASE)
_FROM = re.compile(r"\bfrom\s*$", re.IGNORECASE)
_RANGE_DASH = re.compile(r"^(?:\s?[–—]\s?|-|\s-\s)$")
_RANGE_BRACKETS = (("[", "]"), ("(", ")"))
_BETWEEN = re.compile(r"\bbetween\s*$", re.IGNORECASE)


def find_quantities(text: str, words: bool = False) -> list[Quantity]:
    """Every number in `text`, in order, with its unit if one is written next to it; with `words`, also
    numbers written in words (marked `in_words`)."""
    found: list[Quantity] = [*_word_quantities(text)] if words else []
    compounds = [*_COMPOUND.finditer(text)] if _COMPOUND_START.search(text) else []
    numeral = _NUMERAL_DIGIT.search(text) or _CODE_DIGIT.search(text)
    numerals = [*_NUMBER.finditer(text)] if numeral else []
    # dates, times, versions and ids only matter where a numeral is (most digits are in ids and mentions)
    taken = [(m.start(), m.end()) for m in _NOT_NUMBERS.finditer(text)] if compounds or numerals else []
    for m in compounds:
        if any(a <= m.start() < b for a, b in taken):
            continue
        first = float(m.group("a")) * _TIME[_canonical(m.group("ua"))]
        second = float(m.group("b")) * _TIME[_canonical(m.group("ub"))]
        unit = "h" if _canonical(m.group("ub")) == "min" else "d"
        value = (first + second) / _TIME[unit]
        found.append(Quantity(_tidy(value), unit, m.start(), m.end(), m.group(0)))
        taken.append((m.start(), m.end()))
    for m in numerals:
        if any(a <= m.start() < b or a < m.end() <= b for a, b in taken):
            continue
        found.append(_quantity(m, text))
    if not found:
        return found
    found.sort(key=lambda q: q.start)
    return _mark_ranges(text, _mark_transitions(text, found))


def _canonical(spelling: str) -> str:
    """The unit a spelling names, also as IGNORECASE patterns match it ("mınutes", dotless i, is minutes)."""
    found = _UNIT_WORDS.get(spelling) or _UNIT_WORDS.get(spelling.lower())
    return (found or _UNIT_WORDS.get(lower_as_ignorecase(spelling), ("other", spelling)))[1]


def _quantity(m: re.Match[str], text: str) -> Quantity:
    sep = m.group("sep") or ""
    value = float(m.group("num").replace(sep, "") if sep else m.group("num"))
    if m.group("sign") in ("-", "−"):
        value = -value
    mult, unit_text = m.group("mult"), m.group("unit")
    currency = (m.group("cur") or "").strip()
    end = m.end()
    if currency and unit_text == "m":
        mult, unit_text = "M", None  # "$1.2m" is money in millions, not minutes
    if mult:
        value *= _MULTIPLIERS[mult]
    if not currency and not unit_text and (code := _SUFFIX_CODE.match(text, end)):
        currency, end = code.group(0).strip(), code.end()  # "970,000 USD"
    unit = _canonical(currency) if currency else _canonical(unit_text) if unit_text else None
    noun = _noun(text, end) if unit is None else None
    return Quantity(value, unit, m.start(), end, text[m.start() : end], noun=noun)


def _noun(text: str, end: int) -> str | None:
    """The word a bare number ending at `end` counts: the next word (markup skipped), unless a function word."""
    following = _NOUN.match(text, end)
    if following is None:
        return None
    word = following.group("noun").lower()
    return None if word in FUNCTION_WORDS else word


def _mark_transitions(text: str, quantities: list[Quantity]) -> list[Quantity]:
    """In "from 15% to 3%" or "15% -> 3%" the first number is the old value."""
    marked = list(quantities)
    for i in range(len(marked) - 1):
        left, right = marked[i], marked[i + 1]
        between = text[left.end : right.start]
        after_from = bool(_FROM.search(text[max(0, left.start - 12) : left.start]))
        if _TRANSITION.match(between) and (after_from or between.strip() in ("->", "→", "=>", "➝")):
            marked[i] = replace(left, superseded=True)
    return marked


def _mark_ranges(text: str, quantities: list[Quantity]) -> list[Quantity]:
    """ "[0.1%, 1.8%]", "3–5", "between 3 and 5": both ends carry (low, high); a shared unit goes to both."""
    marked = list(quantities)
    for i in range(len(marked) - 1):
        left, right = marked[i], marked[i + 1]
        if left.in_words != right.in_words or left.range is not None:
            continue
        between = text[left.end : right.start]
        before, after = text[: left.start].rstrip(), text[right.end :].lstrip()
        bracketed = between.strip() == "," and any(
            before.endswith(o) and after.startswith(c) for o, c in _RANGE_BRACKETS
        )
        dashed = bool(_RANGE_DASH.match(between)) and not left.superseded
        between_and = between.strip().lower() == "and" and bool(_BETWEEN.search(before))
        if not (bracketed or dashed or between_and):
            continue
        unit = left.unit or right.unit
        if left.unit not in (None, unit) or right.unit not in (None, unit):
            continue
        bounds = (left.value, right.value)
        marked[i] = replace(left, unit=unit, range=bounds, noun=right.noun)
        marked[i + 1] = replace(right, unit=unit, range=bounds)
    return marked


_SMALL_TEXT = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
)
_SMALL = {w: n for n, w in enumerate(_SMALL_TEXT.split())}
_TENS_TEXT = "twenty thirty forty fifty sixty seventy eighty ninety"
_TENS = {w: 10 * n for n, w in enumerate(_TENS_TEXT.split(), start=2)}
_NUMBER_WORD = "|".join(sorted([*_SMALL, *_TENS, "hundred", "thousand"], key=len, reverse=True))
# a run of number words: "forty-two", "twelve hundred", "three thousand four hundred and five"
_WORD_RUN = re.compile(
    rf"(?<![\w-])(?<!\bno )(?:{_NUMBER_WORD})(?:(?:[\s-]+|\s+and\s+)(?:{_NUMBER_WORD}))*(?![\w]|-[A-Za-z])",
    re.IGNORECASE,
)
_WORD_TOKEN = re.compile(r"[a-z]+", re.IGNORECASE)
_WORD_UNIT = re.compile(rf"\s+(?P<unit>{_UNIT_ALTERNATION})(?![A-Za-z0-9])", re.IGNORECASE)


def _word_quantities(text: str) -> list[Quantity]:
    """Numbers 0..999,999 in words: [N thousand] [N hundred] [and] [0..99], N itself small; "a hundred" is not."""
    found: list[Quantity] = []
    for run in _WORD_RUN.finditer(text):
        tokens = [
            (m.group(0).lower(), run.start() + m.start(), run.start() + m.end())
            for m in _WORD_TOKEN.finditer(run.group(0))
        ]
        i = 0
        while i < len(tokens):
            parsed = _parse_words([t for t, _, _ in tokens], i)
            if parsed is None:
                i += 1
                continue
            value, j = parsed
            start, end = tokens[i][1], tokens[j - 1][2]
            unit_match = _WORD_UNIT.match(text, end)
            unit = _canonical(unit_match.group("unit")) if unit_match else None
            end = unit_match.end() if unit_match else end
            noun = _noun(text, end) if unit is None else None
            found.append(Quantity(float(value), unit, start, end, text[start:end], in_words=True, noun=noun))
            i = j
    return found


def _parse_words(tokens: list[str], i: int) -> tuple[int, int] | None:
    """(value, index after it) of the number starting at tokens[i], or None if none starts there."""
    first = _hundreds(tokens, i)
    if first is None:
        return None
    value, j = first
    if j < len(tokens) and tokens[j] == "thousand" and value > 0:
        value, j = value * 1000, j + 1
        rest = _hundreds(tokens, _skip_and(tokens, j))
        if rest is not None and rest[0] < 1000:
            value, j = value + rest[0], rest[1]
    return value, j


def _hundreds(tokens: list[str], i: int) -> tuple[int, int] | None:
    """[0..99 hundred [and]] [0..99]: "twelve hundred", "three hundred and five", "forty-two"."""
    first = _below_hundred(tokens, i)
    if first is None:
        return None
    value, j = first
    if j < len(tokens) and tokens[j] == "hundred" and value > 0:
        value, j = value * 100, j + 1
        rest = _below_hundred(tokens, _skip_and(tokens, j))
        if rest is not None:
            value, j = value + rest[0], rest[1]
    return value, j


def _below_hundred(tokens: list[str], i: int) -> tuple[int, int] | None:
    if i >= len(tokens):
        return None
    word = tokens[i]
    if word in _SMALL:
        return _SMALL[word], i + 1
    if word in _TENS:
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if 0 < _SMALL.get(following, 0) < 10:
            return _TENS[word] + _SMALL[following], i + 2
        return _TENS[word], i + 1
    return None


def _skip_and(tokens: list[str], i: int) -> int:
    return i + 1 if i < len(tokens) and tokens[i] == "and" else i


@dataclass(frozen=True)
class MetricUnit:
    """A catalog unit understood: its family and the factor to that family's base unit."""

    text: str
    family: str  # percent, ratio, pp, time, usd, eur, gbp, count, or "other"
    factor: float = 1.0


_COUNT_WORDS = {
    "count",
    "number",
    "issues",
    "bugs",
    "tickets",
    "incidents",
    "users",
    "requests",
    "items",
    "deploys",
    "deployments",
    "points",
    "story_points",
    "score",
    "nps",
    "people",
    "customers",
    "accounts",
    "files",
    "projects",
}


def metric_unit(unit: str) -> MetricUnit:
    """Understand a catalog `unit:` such as percent, ratio, ms, hours, usd, count."""
    key = unit.strip().lower().replace("-", "_")
    if key in ("ratio", "fraction", "share", "proportion"):
        return MetricUnit(unit, "ratio")
    if key in _UNIT_WORDS or key.replace("_", " ") in _UNIT_WORDS:
        family, canonical = _UNIT_WORDS.get(key) or _UNIT_WORDS[key.replace("_", " ")]
        return MetricUnit(unit, family, _TIME.get(canonical, 1.0) if family == "time" else 1.0)
    if key in _COUNT_WORDS or key.endswith(("_count", "count")):
        return MetricUnit(unit, "count")
    return MetricUnit(unit, "other")


@dataclass(frozen=True)
class Conversion:
    value: float
    assumption: str | None = None  # set when the unit was assumed or converted


def convert(quantity: Quantity, unit: str | MetricUnit) -> Conversion | None:
    """`quantity` in the metric's unit, or None when the units do not fit (e.g. ms for a percent metric)."""
    target = unit if isinstance(unit, MetricUnit) else metric_unit(unit)
    family = quantity.family
    if family is None:
        if target.family in ("count", "other"):
            return Conversion(quantity.value)
        return Conversion(quantity.value, f"read the bare number {quantity.text.strip()} as {target.text}")
    if family == "time" and target.family == "time" and quantity.unit is not None:
        value = quantity.value * _TIME[quantity.unit] / target.factor
        note = (
            None if quantity.unit == _canonical(target.text.lower()) else f"converted {quantity.text} to {target.text}"
        )
        return Conversion(_tidy(value), note)
    if family == target.family:
        return Conversion(quantity.value)
    if family == "percent" and target.family == "ratio":
        return Conversion(_tidy(quantity.value / 100), f"converted {quantity.text} to a ratio")
    if target.family == "other" and quantity.unit == target.text.strip().lower():
        return Conversion(quantity.value)
    return None


def _tidy(value: float) -> float:
    """Round away float noise from unit conversion (0.45 s -> 450.00000000000006 ms)."""
    return float(f"{value:.12g}")


def values_match(a: float, b: float, rel: float = 0.005, abs_tol: float = 1e-9) -> bool:
    """Two readings of the same number, allowing for rounding in prose ("1.2k" for 1,234 is not a match)."""
    return abs(a - b) <= max(abs_tol, rel * max(abs(a), abs(b)))
