"""The metric and OKR catalog: `metrics.yaml` -> validated models.

Metric ids reach SQL and prompts, so they are checked strictly. Every error names the file, the metric
(or objective) and the key, and says what to write instead.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

METRIC_ID = re.compile(r"^[a-z][a-z0-9_]*$")
SOURCE_TYPES = ("slack", "jira", "docs")
QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
# `unknown`: neither the catalog nor a key result says which way is better, so nothing colours a move
Direction = Literal["higher_is_better", "lower_is_better", "unknown"]
DirectionSource = Literal["catalog", "key_result", "unknown"]
# time semantics (docs/catalog.md): a snapshot is a level at a moment, a flow accumulates over its window
Kind = Literal["snapshot", "flow"]
Window = Literal["day", "week", "month", "quarter", "rolling_7d", "rolling_30d"]
Additivity = Literal["additive", "semi_additive", "non_additive"]
# which reading is a day's value: the freshest reported that day, or the one whose period ends that day
SeriesRule = Literal["as_reported", "by_period"]
DEFAULT_KIND: Kind = "snapshot"  # never summed: the safe assumption for a metric that does not say
DEFAULT_FLOW_WINDOW: Window = "day"
DEFAULT_SERIES_RULE: SeriesRule = "as_reported"


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
    direction: Direction = "unknown"  # resolved: as written, else from the key results (see Catalog)
    direction_source: DirectionSource = Field("unknown", exclude=True)  # derived from the catalog's content
    derived: bool = False  # the value may be computed, so it need not appear verbatim in a quote
    tolerance: Annotated[float, Field(ge=0)] = 0.02  # relative disagreement between sources that is a conflict
    kind: Kind = DEFAULT_KIND
    window: Window | None = Field(None, validate_default=True)  # flows only; a flow without one is daily
    series_rule: SeriesRule = DEFAULT_SERIES_RULE  # resolved: as written, else the catalog's series_rule

    @model_validator(mode="before")
    @classmethod
    def _direction_source(cls, data: Any) -> Any:
        if isinstance(data, dict) and "direction_source" not in data:
            written = data.get("direction") in ("higher_is_better", "lower_is_better")
            return {**data, "direction_source": "catalog" if written else "unknown"}
        return data

    @field_validator("window")
    @classmethod
    def _window(cls, v: Window | None, info: ValidationInfo) -> Window | None:
        kind = info.data.get("kind")
        if kind == "snapshot" and v is not None:
            raise ValueError(
                f"a snapshot is a level at a moment and has no window: remove window: {v}, or write kind: flow "
                f"if the metric accumulates over the {v}"
            )
        return DEFAULT_FLOW_WINDOW if kind == "flow" and v is None else v

    @property
    def additivity(self) -> Additivity:
        """How BI may aggregate the series: a snapshot takes the last value per period (never summed), a daily
        flow sums, a flow over a longer or rolling window neither sums nor averages correctly."""
        if self.kind == "snapshot":
            return "semi_additive"
        return "additive" if self.window == "day" else "non_additive"

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

    @property
    def direction(self) -> Literal["higher_is_better", "lower_is_better"]:
        """Which way the target says is better: below the baseline means lower is better."""
        return "lower_is_better" if self.target < self.baseline else "higher_is_better"

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


AlertEvent = Literal["off_track", "at_risk", "conflict"]


class Alerts(_Strict):
    """Where alerts go and what raises one: a key result turning at risk or off track, a metric's new conflict."""

    channel: str = Field(min_length=1)  # Slack channel id or #name
    notify: tuple[AlertEvent, ...] = ("off_track", "at_risk", "conflict")
    # a conflict alerts only when the readings differ by at least this share of the published value
    min_conflict_gap: Annotated[float, Field(ge=0)] = 0.0

    @field_validator("notify", mode="before")
    @classmethod
    def _notify(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list | tuple) or not v:
            raise ValueError("notify must be a non-empty list of off_track, at_risk, conflict")
        return v


def key_result_directions(objectives: tuple[Objective, ...]) -> dict[str, dict[str, list[str]]]:
    """metric id -> direction its key results imply -> the objectives whose key results imply it."""
    found: dict[str, dict[str, list[str]]] = {}
    for o in objectives:
        for kr in o.key_results:
            ids = found.setdefault(kr.metric, {}).setdefault(kr.direction, [])
            if o.id not in ids:
                ids.append(o.id)
    return found


_OBJECTIVES = TypeAdapter(tuple[Objective, ...])


def _with_inferred_direction(metric: Any, implied: dict[str, dict[str, list[str]]]) -> Any:
    """A metric entry with no direction of its own takes the one its key results agree on."""
    ident: Any
    if isinstance(metric, Metric):
        ident, has_own = metric.id, metric.direction_source == "catalog"
    elif isinstance(metric, dict):
        ident, has_own = metric.get("id"), metric.get("direction") in ("higher_is_better", "lower_is_better")
    else:
        return metric
    sides = implied.get(ident) if isinstance(ident, str) else None
    if has_own or not sides or len(sides) != 1:
        return metric  # disagreeing key results are reported by Catalog._directions
    update = {"direction": next(iter(sides)), "direction_source": "key_result"}
    return metric.model_copy(update=update) if isinstance(metric, Metric) else {**metric, **update}


class Catalog(_Strict):
    metrics: tuple[Metric, ...] = Field(min_length=1)
    objectives: tuple[Objective, ...] = ()
    okr_status: OkrStatusThresholds = OkrStatusThresholds()
    # how much a reading from each source type is trusted when sources disagree
    source_authority: dict[str, Annotated[float, Field(ge=0, le=1)]] = {"docs": 0.9, "jira": 0.8, "slack": 0.6}
    alerts: Alerts | None = None  # not part of catalog_version: alerts change nothing that is extracted
    series_rule: SeriesRule = DEFAULT_SERIES_RULE  # for the metrics that do not write their own

    @model_validator(mode="before")
    @classmethod
    def _default_series_rule(cls, data: Any) -> Any:
        """A metric without `series_rule` takes the catalog's (itself `as_reported` unless written)."""
        if not isinstance(data, dict) or not isinstance(data.get("metrics"), list | tuple):
            return data
        rule = data.get("series_rule", DEFAULT_SERIES_RULE)
        if rule == DEFAULT_SERIES_RULE or rule not in get_args(SeriesRule):
            return data  # the default needs no copying; a bad value is reported on the catalog's key only
        metrics = [{"series_rule": rule, **m} if isinstance(m, dict) else m for m in data["metrics"]]
        return {**data, "metrics": metrics}

    @model_validator(mode="before")
    @classmethod
    def _infer_directions(cls, data: Any) -> Any:
        """A metric without `direction` takes the one its key results imply (target below baseline: lower is
        better). Objectives that do not validate imply nothing here: their own errors are reported."""
        if not isinstance(data, dict) or not isinstance(data.get("metrics"), list | tuple):
            return data
        try:
            objectives = _OBJECTIVES.validate_python(data.get("objectives") or ())
        except ValidationError:
            return data
        implied = key_result_directions(objectives)
        return {**data, "metrics": [_with_inferred_direction(m, implied) for m in data["metrics"]]}

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
        self._directions()
        unknown = set(self.source_authority) - set(SOURCE_TYPES)
        if unknown:
            raise ValueError(
                f"key 'source_authority': unknown source types {sorted(unknown)}; use {', '.join(SOURCE_TYPES)}"
            )
        return self

    def _directions(self) -> None:
        """A key result must not contradict its metric's written direction, nor the other key results."""
        implied = key_result_directions(self.objectives)
        for m in self.metrics:
            sides = implied.get(m.id, {})
            if m.direction_source == "catalog":
                for o in self.objectives:
                    for i, kr in enumerate(o.key_results):
                        if kr.metric == m.id and kr.direction != m.direction:
                            where = "below" if kr.target < kr.baseline else "above"
                            raise ValueError(
                                f"objective {o.id!r}, key 'key_results.{i}': the target ({kr.target:g}) is {where} "
                                f"the baseline ({kr.baseline:g}), but metric {m.id!r} has direction {m.direction}; "
                                "fix the key result or the metric's direction"
                            )
            elif len(sides) > 1:
                lower = ", ".join(repr(o) for o in sides["lower_is_better"])
                higher = ", ".join(repr(o) for o in sides["higher_is_better"])
                raise ValueError(
                    f"metric {m.id!r}, key 'direction': its key results disagree on which way is better (target "
                    f"below the baseline in objective(s) {lower}, above it in {higher}); write direction: "
                    "lower_is_better or higher_is_better and fix the key results that contradict it"
                )

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
    return hashlib.sha256(catalog.model_dump_json(exclude={"alerts"}).encode()).hexdigest()[:16]


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


def _written_direction_source(data: dict[str, Any]) -> int | None:
    """The index of the first metric entry that writes `direction_source`, which only the loader sets."""
    metrics = data.get("metrics")
    entries = metrics if isinstance(metrics, list) else []
    return next((i for i, m in enumerate(entries) if isinstance(m, dict) and "direction_source" in m), None)


def parse_catalog(data: Any, path: Path | str = "<catalog>") -> Catalog:
    path = Path(path)
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: expected a mapping with 'metrics:' (and optionally 'objectives:') at the top")
    written = _written_direction_source(data)
    if written is not None:
        raise CatalogError(
            f"{_where(path, data, ('metrics', written, 'direction_source'))}: is set by the loader (catalog, "
            "key_result or unknown), not written; remove it and write direction: instead"
        )
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
