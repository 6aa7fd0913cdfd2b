"""The metric and OKR catalog: `metrics.yaml` -> validated models.

Metric ids reach SQL and prompts, so they are checked strictly. Every error names the file, the metric
(or objective) and the key, and says what to write instead.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

METRIC_ID = re.compile(r"^[a-z][a-z0-9_]*$")
SOURCE_TYPES = ("slack", "jira", "docs")
QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


class CatalogError(ValueError):
    """The catalog file is unusable; the message names file, entry and key."""


class _Strict(BaseModel):
    # NaN compares false with everything, so a `.nan` bound or threshold would silently switch its check off
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Validation(_Strict):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Validation:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class SourceSelector(_Strict):
    """`slack`, `jira`, `docs`, or a narrower `slack:#channel`, `jira:PROJECT`, `docs:glob`."""

    source_type: Literal["slack", "jira", "docs"]
    pattern: str | None = None

    @classmethod
    def parse(cls, text: str) -> SourceSelector:
        kind, _, pattern = str(text).partition(":")
        kind = kind.strip()
        if kind not in SOURCE_TYPES:
            raise ValueError(
                f"unknown source {text!r}: use one of {', '.join(SOURCE_TYPES)}, optionally narrowed "
                "as slack:#channel, jira:PROJECT or docs:glob"
            )
        return cls(source_type=kind, pattern=pattern.strip().lstrip("#") or None)

    def __str__(self) -> str:
        return self.source_type + (f":{self.pattern}" if self.pattern else "")


class Metric(_Strict):
    id: str
    description: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    sources: tuple[SourceSelector, ...] = tuple(SourceSelector(source_type=s) for s in SOURCE_TYPES)
    validation: Validation = Validation()
    min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.7
    direction: Literal["higher_is_better", "lower_is_better"] = "higher_is_better"
    derived: bool = False  # the value may be computed, so it need not appear verbatim in a quote
    tolerance: Annotated[float, Field(ge=0)] = 0.02  # relative disagreement between sources that is a conflict

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not METRIC_ID.match(v):
            raise ValueError(
                f"{v!r} is not a valid metric id: use lowercase letters, digits and _, starting with a letter"
            )
        return v

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for alias in v:
            if not any(ch.isalnum() for ch in alias):
                raise ValueError(
                    f"alias {alias!r} has no letter or digit, so it would match any text and make every number "
                    "a reading of this metric: write the metric's name in words, such as 'error rate'"
                )
        return v

    @field_validator("sources", mode="before")
    @classmethod
    def _sources(cls, v: Any) -> Any:
        if v is None:
            return v
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list | tuple) or not v:
            raise ValueError("sources must be a non-empty list such as [slack, jira, docs]")
        return tuple(SourceSelector.parse(s) if isinstance(s, str) else s for s in v)

    @property
    def source_types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.source_type for s in self.sources))


class KeyResult(_Strict):
    metric: str
    baseline: float
    target: float

    @model_validator(mode="after")
    def _moves(self) -> KeyResult:
        if self.baseline == self.target:
            raise ValueError("baseline and target are equal, so progress is undefined")
        return self


class Objective(_Strict):
    id: str
    title: str = Field(min_length=1)
    quarter: str
    key_results: tuple[KeyResult, ...] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not METRIC_ID.match(v):
            raise ValueError(f"{v!r} is not a valid objective id: use lowercase letters, digits and _")
        return v

    @field_validator("quarter")
    @classmethod
    def _quarter(cls, v: str) -> str:
        if not QUARTER.match(str(v)):
            raise ValueError(f"{v!r} is not a quarter: write it as 2026-Q3")
        return v

    @property
    def start(self) -> date:
        return quarter_bounds(self.quarter)[0]

    @property
    def end(self) -> date:
        return quarter_bounds(self.quarter)[1]


class OkrStatusThresholds(_Strict):
    """Status from progress / expected progress: below `at_risk` is at risk, below `off_track` off track."""

    at_risk: Annotated[float, Field(ge=0, le=1)] = 0.9
    off_track: Annotated[float, Field(ge=0, le=1)] = 0.6

    @model_validator(mode="after")
    def _ordered(self) -> OkrStatusThresholds:
        if self.off_track > self.at_risk:
            raise ValueError("off_track must not be above at_risk")
        return self


class Catalog(_Strict):
    metrics: tuple[Metric, ...] = Field(min_length=1)
    objectives: tuple[Objective, ...] = ()
    okr_status: OkrStatusThresholds = OkrStatusThresholds()
    # how much a reading from each source type is trusted when sources disagree
    source_authority: dict[str, Annotated[float, Field(ge=0, le=1)]] = {"docs": 0.9, "jira": 0.8, "slack": 0.6}

    @model_validator(mode="after")
    def _references(self) -> Catalog:
        seen: set[str] = set()
        for m in self.metrics:
            if m.id in seen:
                raise ValueError(f"metric {m.id!r}, key 'id': the id appears twice; give each metric its own id")
            seen.add(m.id)
        for o in self.objectives:
            for i, kr in enumerate(o.key_results):
                if kr.metric not in seen:
                    raise ValueError(
                        f"objective {o.id!r}, key 'key_results.{i}.metric': names unknown metric {kr.metric!r}; "
                        "use an id from metrics:"
                    )
        unknown = set(self.source_authority) - set(SOURCE_TYPES)
        if unknown:
            raise ValueError(
                f"key 'source_authority': unknown source types {sorted(unknown)}; use {', '.join(SOURCE_TYPES)}"
            )
        return self

    def metric(self, metric_id: str) -> Metric:
        for m in self.metrics:
            if m.id == metric_id:
                return m
        raise KeyError(metric_id)

    @property
    def metric_ids(self) -> list[str]:
        return [m.id for m in self.metrics]


def catalog_version(catalog: Catalog) -> str:
    """A short hash of the catalog's content: days extracted under another version must be redone."""
    return hashlib.sha256(catalog.model_dump_json().encode()).hexdigest()[:16]


def quarter_bounds(quarter: str) -> tuple[date, date]:
    """First and last day of a quarter written as `2026-Q3`."""
    match = QUARTER.match(quarter)
    if not match:
        raise ValueError(f"{quarter!r} is not a quarter: write it as 2026-Q3")
    year, q = int(match.group(1)), int(match.group(2))
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return start, date.fromordinal(end.toordinal() - 1)


def _where(path: Path, data: Any, loc: tuple[Any, ...]) -> str:
    """'metric api_error_rate, key validation.min' from a pydantic error location."""
    parts = list(loc)
    if len(parts) >= 2 and parts[0] in ("metrics", "objectives") and isinstance(parts[1], int):
        section, index = parts[0], parts[1]
        entries = data.get(section) if isinstance(data, dict) else None
        entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
        ident = entry.get("id") if isinstance(entry, dict) else None
        kind = "metric" if section == "metrics" else "objective"
        name = f"{kind} {ident!r}" if ident else f"{kind} #{index + 1}"
        rest = ".".join(str(p) for p in parts[2:])
        return f"{path}: {name}" + (f", key {rest!r}" if rest else "")
    return f"{path}: key {'.'.join(str(p) for p in parts)!r}" if parts else str(path)


def _follows_from_an_entry(err: Any, errors: list[Any]) -> bool:
    """'metrics: should have at least 1 item' only because its one entry was invalid: the entry's error says it."""
    loc = tuple(err["loc"])
    return err["type"] == "too_short" and any(tuple(e["loc"])[: len(loc)] == loc and e is not err for e in errors)


def parse_catalog(data: Any, path: Path | str = "<catalog>") -> Catalog:
    path = Path(path)
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: expected a mapping with 'metrics:' (and optionally 'objectives:') at the top")
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        lines = []
        errors = exc.errors()
        for err in errors:
            if _follows_from_an_entry(err, errors):
                continue
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (typo?); see docs/catalog.md for the allowed keys"
            elif err["type"] == "missing":
                msg = "required key is missing"
            elif err["type"] == "finite_number":
                msg = "must be a finite number, not .nan or .inf (leave a bound out to have none)"
            lines.append(f"{_where(path, data, tuple(err['loc']))}: {msg}")
        raise CatalogError("invalid catalog:\n  " + "\n  ".join(lines)) from None


def load_catalog(path: Path | str) -> Catalog:
    """Load and validate a catalog file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError(f"{path}: catalog file not found; set KPI_CATALOG to a metrics.yaml") from None
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise CatalogError(f"{path}:{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_catalog(data, path)
