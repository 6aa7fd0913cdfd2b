"""Private data out of source text before it leaves for the model: typed placeholders in its place.

What is replaced, in this order (an earlier kind wins where two overlap):

- `[SECRET_n]`: credentials with a well-known shape: Slack tokens (`xoxb-`, `xoxp-`, `xoxa-`, `xoxs-`, `xoxr-`,
  `xoxe-`, `xapp-`), Anthropic keys (`sk-ant-`), GitHub tokens (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`,
  `github_pat_`), AWS access key ids (`AKIA`/`ASIA` + 16) and JWTs (`eyJ...` header, payload, signature).
- `[EMAIL_n]`: e-mail addresses, also inside Slack's `<mailto:...|...>`.
- `[IBAN_n]`: IBANs, compact or in groups of four, whose ISO 13616 mod-97 checksum holds.
- `[CARD_n]`: payment card numbers: 13 to 19 digits, contiguous or grouped as cards are printed (4-4-4-4,
  4-6-5, 4-6-4), starting 2 to 6 (Mastercard, Amex, Diners, JCB, Visa, Discover, UnionPay, Maestro) and
  passing the Luhn check.
- `[ID_n]`: identity numbers: US social security numbers (`123-45-6789`, or 9 digits after `SSN`, `national ID`,
  ...) and UK National Insurance numbers (`AB 12 34 56 C`).
- `[PHONE_n]`: phone numbers: international (`+` and 8 to 15 digits), North American (`(415) 555-0134`,
  `415-555-0134`), national with a trunk 0 (`020 7946 0958`, `06 12 34 56 78`: 10 to 12 digits), and any
  7 to 15 digits right after a word that announces one (`phone`, `tel`, `mobile`, `call me at`, ...).

KPI figures must come through untouched, so every pattern refuses what they look like: a number grouped in
threes (`11 900`, `1 234 567`, `+12 500 000`), dates, times, versions, ranges and digits glued to words or
decimals. A number that is private but has none of these shapes (a bare 7-digit local number with no word
before it, an address spelled `alice at example dot com`) is not found: redaction lowers the risk, it does
not replace access control on the sources.

Placeholders are numbered per source, in order of appearance; the same value gets the same placeholder
(e-mails compared case-insensitively, numbers by their digits), so the model can still tell two people apart.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from kpi_pipeline.extraction.injection import lower_as_ignorecase
from kpi_pipeline.extraction.llm_config import LlmConfigError
from kpi_pipeline.extraction.schema import SourceDoc

REDACT_SETTING = "KPI_REDACT"
_ON = frozenset({"1", "true", "yes", "on"})
_OFF = frozenset({"0", "false", "no", "off"})

KINDS = ("SECRET", "EMAIL", "IBAN", "CARD", "ID", "PHONE")  # detection order: an earlier kind wins an overlap


class RedactionSettingError(LlmConfigError):
    """`KPI_REDACT` is not a yes or a no."""


@dataclass(frozen=True)
class Private:
    """One private value found in text: its kind, its span and the key two mentions of it share."""

    kind: str
    start: int
    end: int
    key: str


@dataclass
class Placeholders:
    """Numbering of one source's private values: `[EMAIL_1]`, `[EMAIL_2]`, ... per kind, a value keeping its own."""

    numbers: dict[tuple[str, str], int] = field(default_factory=dict)

    def name(self, kind: str, key: str) -> str:
        number = self.numbers.get((kind, key))
        if number is None:
            number = 1 + sum(1 for k, _ in self.numbers if k == kind)
            self.numbers[(kind, key)] = number
        return f"[{kind}_{number}]"


# A value is not glued to a word, a decimal or an id on either side.
_BEFORE = r"(?<![\w.,+/@-])"
_AFTER = r"(?![\w%]|[.,]\d|-\w)"

_SECRETS = re.compile(
    r"(?<![\w-])(?:"
    r"xox[abeoprs]-[A-Za-z0-9-]{10,}"  # Slack bot, user, app, refresh, ... tokens
    r"|xapp-\d-[A-Za-z0-9-]{10,}"  # Slack app-level tokens
    r"|sk-ant-[A-Za-z0-9_-]{8,}"  # Anthropic API and admin keys
    r"|gh[pousr]_[A-Za-z0-9]{20,}"  # GitHub personal, OAuth, user-to-server, server-to-server, refresh tokens
    r"|github_pat_[A-Za-z0-9_]{20,}"  # GitHub fine-grained personal access tokens
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"  # AWS access key ids
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWTs: base64url header.payload.signature
    r")"
)
_FILE_SUFFIXES = "png|jpe?g|gif|svg|webp|ico|pdf|js|css|html?"  # "apple-touch-icon@2.png" is a file, not a mailbox
_EMAIL = re.compile(
    r"(?<![\w.%+'-])[\w.%+'-]+@(?:[^\W_](?:[\w-]*[^\W_])?\.)+(?!(?:" + _FILE_SUFFIXES + r")(?![\w-]))"
    r"[^\W\d_]{2,}(?![\w-])",
)
_IBAN_COMPACT = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}[A-Z0-9]{11,30}(?![A-Za-z0-9])")
_IBAN_GROUPED = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?(?![A-Za-z0-9])")
_CARD_SHAPES = (
    r"\d{13,19}"  # contiguous
    r"|\d{4}(?P<s>[ -])\d{4}(?P=s)\d{4}(?P=s)\d{1,4}(?:(?P=s)\d{1,3})?"  # 4-4-4-4 (Visa 13: 4-4-4-1; 19: -3)
    r"|\d{4}(?P<t>[ -])\d{6}(?P=t)\d{4,5}"  # Amex 4-6-5, Diners 4-6-4
)
_CARD = re.compile(_BEFORE + f"(?:{_CARD_SHAPES})" + _AFTER)
# digit runs always split by one separator, so that a long run of digits is read one way only (no backtracking)
_PHONE_INTERNATIONAL = re.compile(_BEFORE + r"\+\d+(?:[ .-]?\(\d{1,4}\)[ .-]?\d+)?(?:[ .-]\d+)*" + _AFTER)
_PHONE_NANP = re.compile(_BEFORE + r"(?:1[ .-]?)?(?:\([2-9]\d{2}\)[ .-]?|[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4}" + _AFTER)
_PHONE_TRUNK = re.compile(_BEFORE + r"(?:\(0\d{1,4}\)[ .-]?\d+|0\d+)(?:[ .-]\d+)*" + _AFTER)
_PHONE_CUE = re.compile(
    r"(?i:\b(?:phone|telephone|tel|mobile|mob|cell|cellphone|fax|whatsapp|call me|text me|reach me|ring me)\b)"
    r"\s*(?:[:.=#]+|no\.?|number)?\s*(?:(?:at|on)\s+)?"
    r"(?P<number>\+?\(?\d[\d ().-]{5,22}\d)" + _AFTER
)
_THOUSANDS = re.compile(r"\+?\d{1,3}(?:(?P<s>[ .\u00a0\u2009\u202f])\d{3})(?:(?P=s)\d{3})*")
_SSN = re.compile(_BEFORE + r"(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}" + _AFTER)  # US social security
_SSN_CUE = re.compile(
    r"(?i:\b(?:ssn|social security(?: number| no\.?)?|national id(?: number)?|id number)\b)\s*(?:[:#]+\s*)?"
    r"(?P<number>\d{3}[ -]?\d{2}[ -]?\d{4})" + _AFTER
)
# UK National Insurance numbers: two letters (not D, F, I, Q, U, V; second not O), six digits, A to D
_NINO = re.compile(r"(?<![\w-])[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![\w-])")
# Every number kind has six digits close together (at most two of " .()-" between two of them): a text without
# such a cluster, the most common kind, is not searched for cards, ids or phone numbers in shape.
_DIGIT_CLUSTER = re.compile(r"\d(?:[ .()-]{0,2}\d){5}")
_SECRET_START = re.compile(r"xox|xapp-|sk-ant-|gh[pousr]_|github_pat_|AKIA|ASIA|eyJ")  # how every secret starts
_EMAIL_DOMAIN = re.compile(r"@[\w-]+\.")  # an address's "@" and first domain label
_IBAN_START = re.compile(r"[A-Z]{2}\d\d(?:[A-Z0-9]{11}| [A-Z0-9]{4} )")  # compact or grouped
# the cue words of _PHONE_CUE, in lower case as IGNORECASE reads them
_PHONE_CUE_WORD = re.compile(r"phone|tel|mob|cell|fax|whatsapp|call me|text me|reach me|ring me")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}[-.]\d{2}[-.]\d{4}")
_DECIMAL = re.compile(r"\d+[.,]\d+")  # Slack links "28919.8689279" as <tel:...>: still a figure


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def luhn_valid(digits: str) -> bool:
    """The Luhn check of payment card numbers: from the right, every second digit doubled (minus 9 over 9)."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(compact: str) -> bool:
    """ISO 13616: country, check digits, 11 to 30 account characters; moved to the end and read base 36, mod 97 is 1."""
    if not (15 <= len(compact) <= 34 and compact[:2].isalpha() and compact[2:4].isdigit()):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _secrets(text: str) -> Iterator[Private]:
    for m in _SECRETS.finditer(text):
        yield Private("SECRET", m.start(), m.end(), m.group(0))


def _emails(text: str) -> Iterator[Private]:
    for m in _EMAIL.finditer(text):
        yield Private("EMAIL", m.start(), m.end(), m.group(0).lower())


def _ibans(text: str) -> Iterator[Private]:
    for m in _IBAN_COMPACT.finditer(text):
        if iban_valid(m.group(0)):
            yield Private("IBAN", m.start(), m.end(), m.group(0))
    for m in _IBAN_GROUPED.finditer(text):
        groups = m.group(0).split(" ")
        for n in range(len(groups), 3, -1):  # a word in capitals after the IBAN may look like one more group
            compact = "".join(groups[:n])
            if iban_valid(compact):
                yield Private("IBAN", m.start(), m.start() + len(" ".join(groups[:n])), compact)
                break


def _cards(text: str) -> Iterator[Private]:
    for m in _CARD.finditer(text):
        digits = _digits(m.group(0))
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits):
            yield Private("CARD", m.start(), m.end(), digits)


NANP_DIGITS = 11
FIGURE_MOST_DIGITS = 10  # a number grouped in threes with more digits than this (tens of billions) is a phone


def _is_decimal_or_date(candidate: str) -> bool:
    return bool(_DECIMAL.fullmatch(candidate) or _DATE.fullmatch(candidate))


def _looks_like_a_figure(candidate: str) -> bool:
    """A number grouped in threes, a decimal or a date: a KPI figure, not a phone number."""
    return bool(_THOUSANDS.fullmatch(candidate)) or _is_decimal_or_date(candidate)


def _ids(text: str) -> Iterator[Private]:
    for pattern in (_SSN, _NINO):
        for m in pattern.finditer(text):
            yield Private("ID", m.start(), m.end(), re.sub(r"[\s-]", "", m.group(0)))
    for m in _SSN_CUE.finditer(text):
        yield Private("ID", m.start("number"), m.end("number"), _digits(m.group("number")))


def _within(candidate: str, most: int) -> str:
    """`candidate` without its trailing digit groups past `most` digits ("020 7946 0958 2026": a year follows)."""
    while len(_digits(candidate)) > most and (cut := re.search(r"[ .-]\d+$", candidate)):
        candidate = candidate[: cut.start()]
    return candidate


def _phone_cues(text: str) -> Iterator[Private]:
    for m in _PHONE_CUE.finditer(text):
        number = m.group("number")
        digits = _digits(number)
        if 7 <= len(digits) <= 15 and not _looks_like_a_figure(number):
            yield Private("PHONE", m.start("number"), m.end("number"), digits)


def _phone_shapes(text: str) -> Iterator[Private]:
    shapes: list[tuple[re.Pattern[str], int, int]] = [
        (_PHONE_INTERNATIONAL, 8, 15),
        (_PHONE_NANP, 10, 11),
        (_PHONE_TRUNK, 10, 12),
    ]
    for pattern, fewest, most in shapes:
        for m in pattern.finditer(text):
            # North America (+1) has 11 digits: "+1 415 555 0134 12 days" keeps its 12
            candidate = _within(m.group(0), NANP_DIGITS if re.match(r"\+1(?!\d)", m.group(0)) else most)
            digits = _digits(candidate)
            # "+12 500 000" is a signed figure; "+34 912 345 678" (Spain writes threes) has too many digits to be one
            figure = _is_decimal_or_date(m.group(0)) or (
                _looks_like_a_figure(candidate) and len(digits) <= FIGURE_MOST_DIGITS
            )
            if fewest <= len(digits) and not figure:
                yield Private("PHONE", m.start(), m.start() + len(candidate), digits)


def find_private(text: str) -> list[Private]:
    """Every private value in `text`, in order, none overlapping (an earlier kind in `KINDS` wins). A kind is
    searched for only in text with what each of its values has (most texts have none: the searches cost more)."""
    clustered = _DIGIT_CLUSTER.search(text) is not None
    cued = _PHONE_CUE_WORD.search(lower_as_ignorecase(text)) is not None
    kinds = (  # each kind's candidates, in KINDS order
        [*_secrets(text)] if _SECRET_START.search(text) else [],
        [*_emails(text)] if _EMAIL_DOMAIN.search(text) else [],
        [*_ibans(text)] if _IBAN_START.search(text) else [],
        [*_cards(text)] if clustered else [],
        [*_ids(text)] if clustered else [],
        [*(_phone_shapes(text) if clustered else ()), *(_phone_cues(text) if cued else ())],
    )
    kept: list[Private] = []
    for candidates in kinds:
        for found in sorted(candidates, key=lambda p: (p.start, -p.end)) if candidates else ():
            if all(found.end <= k.start or found.start >= k.end for k in kept):
                kept.append(found)
    return sorted(kept, key=lambda p: p.start) if kept else kept


def redact_text(text: str, placeholders: Placeholders | None = None) -> str:
    """`text` with each private value replaced by its placeholder (numbered by `placeholders`, new if None)."""
    private = find_private(text)
    if not private:
        return text
    numbering = placeholders if placeholders is not None else Placeholders()
    pieces: list[str] = []
    position = 0
    for found in private:
        pieces += [text[position : found.start], numbering.name(found.kind, found.key)]
        position = found.end
    return "".join([*pieces, text[position:]])


def redact_source(doc: SourceDoc) -> SourceDoc:
    """The source as the model may see it: title and text redacted with one numbering (title first, as sent)."""
    numbering = Placeholders()
    title = redact_text(doc.title, numbering) if doc.title else doc.title
    text = redact_text(doc.text, numbering)
    return doc if title is doc.title and text is doc.text else replace(doc, title=title, text=text)


def redact_sources(docs: Iterable[SourceDoc]) -> list[SourceDoc]:
    return [redact_source(d) for d in docs]


def redaction_on(setting: str | None) -> bool:
    """`KPI_REDACT`'s value: unset or empty means on; true/false, yes/no, on/off, 1/0 in any case."""
    if setting is None or not setting.strip():
        return True
    value = setting.strip().lower()
    if value in _ON | _OFF:
        return value in _ON
    raise RedactionSettingError(
        f"{REDACT_SETTING}={setting!r} is not a yes or a no: set it to true (the default) or false"
    )


def as_configured(docs: list[SourceDoc], environ: Mapping[str, str] = os.environ) -> list[SourceDoc]:
    """The sources redacted unless `KPI_REDACT` turns redaction off: the one place every path to the model
    (extraction, evaluation, estimates) goes through, so grounding checks quotes against the text sent."""
    return redact_sources(docs) if redaction_on(environ.get(REDACT_SETTING)) else docs
