"""What the CLI checks before it imports Dagster: the day range as the user wrote it, against the daily
partitions, and the Dagster instance (`DAGSTER_HOME`, the storage URL in its dagster.yaml).

Each problem is a `UsageError` whose message is one line saying what to write instead, so a typo costs a
second, not a traceback after Dagster's start-up warnings.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from kpi_pipeline import settings

QUARTER_LIKE = re.compile(r"^(\d{4})-[Qq](\d+)$")
PSYCOPG2_SCHEME = "postgresql+psycopg2"
STORAGE_SECTIONS = ("storage", "run_storage", "event_log_storage", "schedule_storage")


class UsageError(ValueError):
    """An argument or setting the user must fix; the message says what to write instead."""


def day_range(start: str, end: str | None) -> list[date]:
    """Every day of a quarter (`2026-Q3`, any case) or of an inclusive `START END` range."""
    from kpi_pipeline.orchestration.days import parse_day_range  # here: pydantic is not needed for --help

    if end is None:
        quarter = QUARTER_LIKE.match(start.strip())
        if quarter is None and _is_day(start):
            raise UsageError(f"one day is a range of one: write {start.strip()} {start.strip()}")
        if quarter is None:
            raise UsageError(
                f"{start!r} is not a quarter: write a quarter like 2026-Q3, or a range START END "
                "like 2026-07-01 2026-07-31"
            )
        if not 1 <= int(quarter.group(2)) <= 4:
            raise UsageError(f"{start!r} is not a quarter: quarters are Q1 to Q4, e.g. {quarter.group(1)}-Q3")
        return parse_day_range(start.strip().upper())
    first, last = _day("START", start), _day("END", end)
    if last < first:
        raise UsageError(f"END {last} is before START {first}: write the earlier day first, {last} {first}")
    return parse_day_range(first.isoformat(), last.isoformat())


def _is_day(text: str) -> bool:
    try:
        date.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


def _day(label: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{label} {text!r} is not a day: write YYYY-MM-DD, e.g. 2026-07-01") from None


def last_complete_day(now: datetime | None = None) -> date:
    """The newest daily partition: the last UTC day that has ended (Dagster's daily partitions, no end offset)."""
    return (now or datetime.now(UTC)).astimezone(UTC).date() - timedelta(days=1)


def backfill_days(start: str, end: str | None, now: datetime | None = None) -> list[date]:
    """The days of a backfill, all of them daily partitions: from `KPI_START_DATE` to the last complete day."""
    days = day_range(start, end)
    first_partition = date.fromisoformat(settings.start_date())
    if days[0] < first_partition:
        raise UsageError(
            f"{days[0]} is before KPI_START_DATE ({first_partition}), the first daily partition: "
            f"set KPI_START_DATE={days[0]} (or earlier) to backfill it"
        )
    newest = last_complete_day(now)
    if days[0] > newest:
        raise UsageError(f"{days[0]} has not ended yet: the last complete UTC day is {newest}; backfill days up to it")
    if days[-1] > newest:
        raise UsageError(
            f"{days[-1]} has not ended yet (the last complete UTC day is {newest}): "
            f"write kpi-pipeline backfill {days[0]} {newest}"
        )
    return days


def dagster_home(*, create: bool = False) -> Path:
    """`DAGSTER_HOME` as an absolute folder; unset, `.dagster_home` in the current folder (as `make` sets it),
    said in one line. A folder that was named but does not exist is created only when `create`."""
    named = os.environ.get("DAGSTER_HOME", "").strip()
    if not named:
        home = Path(".dagster_home").resolve()
        home.mkdir(parents=True, exist_ok=True)
        print(f"DAGSTER_HOME is not set: using {home} (set DAGSTER_HOME to use another instance)", file=sys.stderr)
    else:
        home = Path(named).resolve()
        if create:
            home.mkdir(parents=True, exist_ok=True)
        elif not home.is_dir():
            raise UsageError(
                f"DAGSTER_HOME={named} is not a folder: create it (mkdir -p {named}), point DAGSTER_HOME at your "
                "Dagster instance, or unset it to use ./.dagster_home"
            )
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def check_instance_storage(home: Path) -> None:
    """Refuse a dagster-postgres storage URL that does not name psycopg2, before Dagster uses it.

    dagster-postgres ships psycopg2 and sends `NOTIFY run_events, $1`; under SQLAlchemy 2.1 a bare
    `postgresql://` selects psycopg 3, which rejects that statement, so every run submission fails and
    backfills stay REQUESTED. dagster-postgres takes the URL from `postgres_url` (a string, or `env: NAME`)
    or builds it from `postgres_db` (whose `scheme` defaults to `postgresql`).
    """
    path = home / "dagster.yaml"
    if not path.is_file():
        return
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(config, dict):
        return
    for where, node in _postgres_configs(config):
        if "postgres_url" in node:
            setting, url = _resolve(node["postgres_url"], f"{path}: {where}.postgres_url")
            scheme = url.split("://", 1)[0] if "://" in url else url
            fix = f"write it as {PSYCOPG2_SCHEME}://user:***@host:5432/db"
        elif isinstance(node.get("postgres_db"), dict):
            setting, scheme = _resolve(node["postgres_db"].get("scheme", "postgresql"), f"{path}: {where}.postgres_db")
            fix = f"set scheme: {PSYCOPG2_SCHEME} under {where}.postgres_db in {path}"
        else:
            continue
        if scheme.strip().lower() != PSYCOPG2_SCHEME:
            raise UsageError(
                f"{setting} uses {scheme}://, but dagster-postgres needs the psycopg2 driver named: {fix} "
                "(a bare postgresql:// means psycopg 3 and every run submission fails; see docs/deployment.md)"
            )


def _postgres_configs(config: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(key path, mapping) of every mapping under the storage sections that configures a PostgreSQL URL."""
    stack: list[tuple[str, Any]] = [(name, config.get(name)) for name in STORAGE_SECTIONS]
    while stack:
        where, node = stack.pop()
        if not isinstance(node, dict):
            continue
        if "postgres_url" in node or "postgres_db" in node:
            yield where, node
            continue
        stack.extend((f"{where}.{key}", value) for key, value in node.items())


def _resolve(value: Any, where: str) -> tuple[str, str]:
    """(what the user edits, its value) for a dagster.yaml string or `{env: NAME}`."""
    if isinstance(value, dict) and "env" in value:
        name = str(value["env"])
        resolved = os.environ.get(name, "").strip()
        if not resolved:
            raise UsageError(f"{name} is not set, but {where} reads it: set it to {PSYCOPG2_SCHEME}://user:***@host/db")
        return name, resolved
    return where, str(value)
