"""Expectation suites as data: JSON files in expectations/, validated by GX 1.x in an ephemeral context.

GX drops an expectation it cannot build (unknown type, bad kwargs) with only a log line, which would
silently weaken the gate; `load_suite` counts what survived and fails loudly instead. Every expectation
carries `meta.rule` (its name in reasons and metrics), `meta.kind` (`structural` fails the whole check,
`row` sends failing rows to quarantine) and `meta.reason` (a sentence formatted with the row's columns).

GX is imported inside functions: the import takes seconds and Dagster loads this module at start-up.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

if TYPE_CHECKING:
    from great_expectations.core.expectation_suite import ExpectationSuite

Kind = Literal["structural", "row"]
KINDS: tuple[Kind, ...] = ("structural", "row")
_GX_SUITE_LOGGER = "great_expectations.core.expectation_suite"


class SuiteError(ValueError):
    """An expectation suite file is unusable; the message names the file and what to fix."""


@dataclass(frozen=True)
class Rule:
    """What one expectation means to the gate."""

    rule: str
    kind: Kind
    reason: str


@dataclass(frozen=True)
class LoadedSuite:
    path: Path
    suite: ExpectationSuite
    rules: tuple[Rule, ...]  # in the file's order, one per expectation


@dataclass(frozen=True)
class Outcome:
    """The result of one expectation on one batch."""

    rule: Rule
    success: bool
    failed_rows: tuple[int, ...]  # index labels of the rows that broke it (map expectations)
    unexpected_count: int
    observed: Any  # GX's observed_value, for table-level expectations
    error: str | None  # the expectation could not run (e.g. its column is missing)


def suites_dir() -> Path:
    """`KPI_EXPECTATIONS_DIR`, else expectations/ at the repository root."""
    explicit = os.environ.get("KPI_EXPECTATIONS_DIR")
    return Path(explicit) if explicit else Path(__file__).resolve().parents[2] / "expectations"


def suite_path(table_name: str) -> Path:
    return suites_dir() / f"{table_name}.json"


def _gx() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteError(
            f"{path}: expectation suite not found; set KPI_EXPECTATIONS_DIR to the expectations/ folder"
        ) from None
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list) or not data.get("name"):
        raise SuiteError(f'{path}: expected an object with "name" and an "expectations" list (a GX 1.x suite)')
    return data


def _rule(path: Path, index: int, expectation: Any) -> Rule:
    meta = expectation.get("meta") if isinstance(expectation, dict) else None
    where = f"{path}: expectation #{index + 1}"
    if not isinstance(meta, dict):
        raise SuiteError(f'{where} has no "meta" object; give it "rule", "kind" ({"/".join(KINDS)}) and "reason"')
    rule, kind, reason = meta.get("rule"), meta.get("kind"), meta.get("reason")
    if not isinstance(rule, str) or not rule:
        raise SuiteError(f'{where}: meta.rule must name the rule, e.g. "min_confidence"')
    if kind not in KINDS:
        raise SuiteError(f"{where} ({rule}): meta.kind is {kind!r}; use one of {', '.join(KINDS)}")
    if not isinstance(reason, str) or not reason:
        raise SuiteError(f"{where} ({rule}): meta.reason must be a sentence explaining a failure")
    return Rule(rule=rule, kind=kind, reason=reason)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def load_suite(path: Path) -> LoadedSuite:
    """Build the GX suite a file describes; raise if GX dropped any of its expectations."""
    data = _read(path)
    rules = tuple(_rule(path, i, e) for i, e in enumerate(data["expectations"]))
    names = [r.rule for r in rules]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SuiteError(f"{path}: meta.rule must be unique within a suite; repeated: {', '.join(repeated)}")
    _gx()
    from great_expectations.core.expectation_suite import ExpectationSuite

    logger = logging.getLogger(_GX_SUITE_LOGGER)
    collect = _Collect()
    logger.addHandler(collect)
    propagate, logger.propagate = logger.propagate, False
    try:
        suite = ExpectationSuite(name=str(data["name"]), expectations=data["expectations"], meta=data.get("meta"))
    except Exception as exc:  # GX raises pydantic errors for some bad kwargs instead of dropping the expectation
        raise SuiteError(f"{path}: GX rejected the suite: {' '.join(str(exc).split())}; fix its kwargs") from None
    finally:
        logger.removeHandler(collect)
        logger.propagate = propagate
    if len(suite.expectations) != len(rules):
        lost = len(rules) - len(suite.expectations)
        details = "; ".join(collect.messages) or "GX gave no reason"
        raise SuiteError(
            f"{path}: GX dropped {lost} of {len(rules)} expectations ({details}); "
            "fix their type or kwargs (see the GX 1.x expectation gallery)"
        )
    return LoadedSuite(path=path, suite=suite, rules=rules)


def _rule_of(loaded: LoadedSuite, meta: dict[str, Any]) -> Rule:
    for rule in loaded.rules:
        if rule.rule == meta.get("rule"):
            return rule
    raise SuiteError(f"{loaded.path}: GX returned a result for unknown rule {meta.get('rule')!r}")


def _error(info: Any) -> str | None:
    """GX's exception info, flat or keyed by metric, as one message (None when nothing raised)."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    nested = [_error(v) for v in info.values() if isinstance(v, dict)]
    return "; ".join(m for m in nested if m) or None


_context_lock = threading.Lock()


@functools.cache
def _batch_definition() -> Any:
    """One ephemeral context per process: each new context creates a temporary docs directory."""
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("gate").add_dataframe_asset("rows")
    return asset.add_batch_definition_whole_dataframe("batch")


def validate(loaded: LoadedSuite, frame: pd.DataFrame) -> list[Outcome]:
    """Validate `frame` (one batch) against the suite; one outcome per expectation, in the file's order."""
    with _context_lock:
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(loaded.suite, result_format="COMPLETE")
    by_rule: dict[str, Outcome] = {}
    for item in result.results:
        rule = _rule_of(loaded, dict(item.expectation_config.meta or {}))
        details = item.result or {}
        error = _error(item.exception_info)
        by_rule[rule.rule] = Outcome(
            rule=rule,
            success=bool(item.success) and error is None,
            failed_rows=tuple(int(i) for i in details.get("unexpected_index_list") or ()),
            unexpected_count=int(details.get("unexpected_count") or 0),
            observed=details.get("observed_value"),
            error=error,
        )
    return [by_rule[r.rule] for r in loaded.rules]
