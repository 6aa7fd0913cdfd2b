"""The incremental Jira read's state: every matching issue as last read, and the cursor to read on from.

dlt-style: the cursor is the newest `updated` the site reported (server time, so this machine's clock does
not matter). The next read asks only for issues updated at or after the cursor minus `INCREMENTAL_OVERLAP`
and merges them over the kept issues, the newer copy of each key winning. Two days of overlap: one for clock
skew and issues the search index shows late, one because JQL reads times in the Jira user's time zone
(UTC-12..UTC+14). Re-reading the overlap is harmless: merging is idempotent.

Because each kept issue is its current version with its complete changelog, the state is what a full read
returns, and every partition is rebuilt from it: a re-run of today and a backfill of a day months ago both
see the same issues a full read would, each day's state undone from the changelog. What an incremental read
cannot see is an issue deleted or moved out of the JQL; delete the state file to force a full read.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.sources.jira_export import JiraExport, SearchPage, merge_pages, parse_timestamp

INCREMENTAL_OVERLAP = timedelta(days=2)
_VERSION = 1


@dataclass
class JiraState:
    """The issues kept so far (raw search payloads) and the `names` map of their fields."""

    issues: list[dict[str, Any]] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)

    def cursor(self) -> datetime | None:
        """The newest `updated` among the kept issues, or None before the first read."""
        stamps = [i["fields"].get("updated") or i["fields"].get("created") for i in self.issues]
        times = [parse_timestamp(s) for s in stamps if isinstance(s, str)]
        return max(times) if times else None

    def read_from(self) -> datetime | None:
        """Where the next read starts: the cursor minus the overlap (None: read everything)."""
        cursor = self.cursor()
        return cursor - INCREMENTAL_OVERLAP if cursor is not None else None

    def merged(self, fresh: JiraExport) -> JiraExport:
        """The kept issues with `fresh` over them (the later `updated` wins, the fresh copy on a tie)."""
        return merge_pages([SearchPage(self.issues, self.names), SearchPage(fresh.issues, fresh.names)])


def state_path(state_dir: Path, url: str, jql: str) -> Path:
    """One state file per site and JQL: changing either starts over with a full read."""
    digest = hashlib.sha256(f"{url.rstrip('/')}\n{jql.strip()}".encode()).hexdigest()[:16]
    return state_dir / f"jira-{digest}.json"


def load_state(path: Path) -> JiraState:
    """The state in `path`, or an empty one when there is none yet."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return JiraState()
    except (OSError, ValueError) as exc:
        raise SourceError(
            f"{path}: the Jira incremental state cannot be read ({exc}); delete it to read Jira in full again"
        ) from None
    if not isinstance(data, dict) or data.get("version") != _VERSION or not isinstance(data.get("issues"), list):
        raise SourceError(f"{path}: not a Jira incremental state of this version; delete it to read Jira in full again")
    return JiraState(data["issues"], dict(data.get("names") or {}))


def save_state(path: Path, export: JiraExport, url: str, jql: str) -> None:
    """Write the state atomically: a crash mid-write leaves the previous state, never half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".json.partial")
        state = JiraState(export.issues, export.names)
        cursor = state.cursor()
        payload = {
            "version": _VERSION,
            "url": url,
            "jql": jql,
            "cursor": cursor.isoformat() if cursor else None,
            "saved_at": datetime.now(UTC).isoformat(),
            "names": export.names,
            "issues": export.issues,
        }
        partial.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        raise SourceError(
            f"{path}: cannot write the Jira incremental state ({exc.strerror}); set KPI_JIRA_STATE_DIR to a "
            "writable folder"
        ) from None
