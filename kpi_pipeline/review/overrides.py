"""Overrides: people's decisions on single readings, kept as reviewed YAML under `overrides/`.

Each entry decides one (metric, day): `accept` publishes the reading as it is, `set` publishes the given
value instead, `reject` withholds it. An entry records the fingerprint of the reading it decided on
(`reading`: a hash of the value and its quotes), so a decision is never applied to a reading nobody saw:
when a rerun reads something else, the entry is stale and waits for review again.

Every problem names the file, the entry and the key, so a typo never publishes anything.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

ACTIONS = ("accept", "set", "reject")
KEYS = ("metric", "day", "action", "value", "reason", "reviewer", "at", "reading")
REVIEW_FILE = "review.yaml"  # the file `kpi-pipeline review` writes
NO_READING = "none"  # the fingerprint of a metric-day without a value (abstained)
FINGERPRINT = re.compile(r"^(none|[0-9a-f]{12})$")


class OverrideError(ValueError):
    """An overrides file is unusable; the message names the file, the entry and the key."""


@dataclass(frozen=True)
class Override:
    metric: str
    day: date
    action: str  # accept | set | reject
    value: float | None  # the value to publish (set only)
    reason: str
    reviewer: str
    at: datetime
    reading: str  # fingerprint of the reading decided on
    file: Path | None = None

    @property
    def key(self) -> tuple[str, date]:
        return (self.metric, self.day)

    def note(self) -> str:
        """One line for history and listings: what was decided, by whom, why."""
        what = {"accept": "accepted", "reject": "rejected"}.get(self.action) or f"set to {self.value:g}"
        return f"{what} by {self.reviewer} on {self.at.date().isoformat()}: {self.reason}"

    def as_yaml(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"metric": self.metric, "day": self.day.isoformat(), "action": self.action}
        if self.action == "set":
            entry["value"] = self.value
        entry |= {"reason": self.reason, "reviewer": self.reviewer, "at": self.at.isoformat(), "reading": self.reading}
        return entry


def reading_fingerprint(value: Any, evidence: Any) -> str:
    """A short hash of a reading's value and quotes: `none` when it has no value."""
    number = _number(value)
    if number is None:
        return NO_READING
    quotes = sorted(str(item.get("quote") or "") for item in _evidence(evidence))
    payload = json.dumps({"value": round(number, 9), "quotes": quotes}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _evidence(evidence: Any) -> list[dict[str, Any]]:
    if not isinstance(evidence, str) or not evidence.strip():
        return []
    try:
        items = json.loads(evidence)
    except json.JSONDecodeError:
        return []
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


# -- reading the folder ------------------------------------------------------------------------------------------


def override_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")) if folder.is_dir() else []


def load_overrides(folder: Path, metric_ids: Iterable[str] | None = None) -> list[Override]:
    """Every entry of `folder/*.yaml` (none when the folder does not exist); OverrideError on any problem,
    including two entries deciding the same (metric, day)."""
    known = set(metric_ids) if metric_ids is not None else None
    seen: dict[tuple[str, date], str] = {}
    out: list[Override] = []
    for path in override_files(folder):
        for n, override in enumerate(load_file(path, known)):
            where = f"{path}: overrides[{n}]"
            if override.key in seen:
                raise OverrideError(
                    f"{where}: {override.metric} on {override.day} is already decided by {seen[override.key]}; "
                    "keep one of the two entries"
                )
            seen[override.key] = where
            out.append(override)
    return out


def load_file(path: Path, known: set[str] | None = None) -> list[Override]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise OverrideError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise OverrideError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise OverrideError(f"{path}: not valid YAML{at}; check the indentation and quoting there") from None
    if data is None:
        return []
    if not isinstance(data, dict) or set(data) != {"overrides"} or not isinstance(data["overrides"], list):
        raise OverrideError(f"{path}: expected one key `overrides:` holding a list of entries")
    return [_entry(path, n, raw, known) for n, raw in enumerate(data["overrides"])]


def _entry(path: Path, n: int, raw: Any, known: set[str] | None) -> Override:
    where = f"{path}: overrides[{n}]"
    if not isinstance(raw, dict):
        raise OverrideError(f"{where}: expected a mapping with metric, day, action, reason, reviewer, at, reading")
    unknown = sorted(str(k) for k in raw if k not in KEYS)
    if unknown:
        raise OverrideError(f"{where}: unknown key {unknown[0]!r}; the keys are {', '.join(KEYS)}")
    for key in ("metric", "day", "action", "reason", "reviewer", "at", "reading"):
        if raw.get(key) in (None, ""):
            raise OverrideError(f"{where}: key {key!r} is missing")
    metric = str(raw["metric"])
    if known is not None and metric not in known:
        raise OverrideError(f"{where}: key 'metric': {metric!r} is not a metric of the catalog")
    where = f"{where} ({metric})"
    action = str(raw["action"])
    if action not in ACTIONS:
        raise OverrideError(f"{where}: key 'action': {action!r} is not one of {', '.join(ACTIONS)}")
    value = _number(raw.get("value"))
    if action == "set" and (value is None or math.isinf(value)):
        raise OverrideError(f"{where}: key 'value': a set needs the number to publish, e.g. value: 2.5")
    if action != "set" and "value" in raw:
        raise OverrideError(f"{where}: key 'value': only a set takes a value; remove it or write action: set")
    reading = str(raw["reading"])
    if not FINGERPRINT.match(reading):
        raise OverrideError(
            f"{where}: key 'reading': {reading!r} is not a reading fingerprint (12 hex digits, or none); "
            "copy it from `kpi-pipeline review`"
        )
    return Override(
        metric=metric,
        day=_day(where, raw["day"]),
        action=action,
        value=value if action == "set" else None,
        reason=str(raw["reason"]),
        reviewer=str(raw["reviewer"]),
        at=_at(where, raw["at"]),
        reading=reading,
        file=path,
    )


def _day(where: str, value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise OverrideError(f"{where}: key 'day': {value!r} is not a day; write YYYY-MM-DD") from None


def _at(where: str, value: Any) -> datetime:
    if isinstance(value, datetime):
        stamp = value
    elif isinstance(value, date):
        stamp = datetime(value.year, value.month, value.day)
    else:
        try:
            stamp = datetime.fromisoformat(str(value))
        except ValueError:
            raise OverrideError(
                f"{where}: key 'at': {value!r} is not a time; write it as 2026-07-10T12:00:00+00:00"
            ) from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


# -- matching decisions to readings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """An override beside the reading it is about now."""

    override: Override
    fingerprint: str | None  # the current reading's fingerprint; None when there is no reading that day

    @property
    def stale(self) -> bool:
        """The reading changed since the decision (or vanished): it must be reviewed again."""
        return self.fingerprint != self.override.reading


def match(overrides: Sequence[Override], values: Any) -> list[Match]:
    """Each override with the fingerprint of its (metric, day) row in `values` (extract.metric_values rows);
    unread rows are no reading, so their decision waits like a vanished one."""
    rows: Mapping[tuple[str, date], str] = {
        (str(r["metric_id"]), _as_date(r["day"])): reading_fingerprint(r["value"], r.get("evidence"))
        for r in _records(values)
        if r.get("status") != "unread"
    }
    return [Match(o, rows.get(o.key)) for o in overrides]


def _records(values: Any) -> list[dict[str, Any]]:
    if values is None:
        return []
    return list(values.to_dict("records")) if hasattr(values, "to_dict") else list(values)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if hasattr(value, "date"):
        return value.date()
    return date.fromisoformat(str(value)[:10])


# -- writing -----------------------------------------------------------------------------------------------------


def write_override(folder: Path, override: Override) -> Path:
    """Add `override` to folder/review.yaml, replacing that file's entry for the same (metric, day).
    Refuses (OverrideError) when another file decides it: one decision per (metric, day)."""
    target = folder / REVIEW_FILE
    for existing in load_overrides(folder):
        if existing.key == override.key and existing.file != target:
            raise OverrideError(
                f"{existing.file}: already decides {override.metric} on {override.day}; change that entry instead"
            )
    kept = [o for o in (load_file(target) if target.exists() else []) if o.key != override.key]
    entries = sorted([*kept, override], key=lambda o: (o.day, o.metric))
    folder.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump({"overrides": [o.as_yaml() for o in entries]}, sort_keys=False, allow_unicode=True)
    header = "# Review decisions written by `kpi-pipeline review` (docs/review.md). Publishing applies them.\n"
    tmp = target.with_suffix(".yaml.tmp")
    tmp.write_text(header + body, encoding="utf-8")
    tmp.replace(target)
    return target
