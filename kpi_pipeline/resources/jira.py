"""Where Jira issues come from: a folder of exported search pages, or Jira Cloud's REST API.

A backfill asks for ~92 days one after another, so the issues' spans of days (sources/jira_spans.py)
are kept per process: an export folder is read again only when one of its files changes, and an API
search that reached day D serves every earlier day too. The Jira step releases them once its rows are
written. With `state_dir` (KPI_JIRA_STATE_DIR) API mode reads incrementally: once per run, only the issues
updated since the kept cursor (sources/jira_state.py), and every day of the run is rebuilt from the kept issues.
"""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field, PrivateAttr

from kpi_pipeline.heap import return_freed_memory
from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.sources.jira_api import JiraCloud
from kpi_pipeline.sources.jira_export import CustomFields, export_files
from kpi_pipeline.sources.jira_spans import JiraSpans, read_export_spans, spans_of
from kpi_pipeline.sources.jira_state import load_state, save_state, state_path
from kpi_pipeline.sources.presence import describe, skip_reason

_ExportFingerprint = tuple[tuple[str, int, int], ...]

_lock = threading.Lock()
_export_cache: dict[Path, tuple[_ExportFingerprint, JiraSpans]] = {}
_api_cache: dict[tuple[str, str, str], tuple[date, JiraSpans]] = {}
_NO_ISSUES = spans_of([], CustomFields())


class JiraSource(dg.ConfigurableResource):
    """Jira issues and their history; `source` is an export folder, "api" or "none" (KPI_JIRA_SOURCE)."""

    source: str
    from_dataset: bool = False  # `source` is the default $KPI_DATASET/jira: a dataset without it has no Jira
    url: str | None = None
    email: str | None = None
    api_token: str | None = Field(default=None, repr=False)
    jql: str | None = None
    # KPI_JIRA_STATE_DIR: where API mode keeps its incremental state; None reads the whole history each run
    state_dir: str | None = None

    # api mode with state_dir: the issues synced by this run, read once
    _synced: JiraSpans | None = PrivateAttr(default=None)

    def issues_and_events_for_day(self, day: date) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(issues as of the end of `day` UTC, events of `day`): the columns of raw.jira_issues and
        raw.jira_events without `ingested_at`; none when the source is skipped."""
        spans = self.spans(day)
        return spans.issues_on(day), spans.events_on(day)

    def notes(self, day: date) -> dict[str, int]:
        """What reading the source up to `day` set aside: repeated changelog entries and comments, dropped."""
        return self.spans(day).notes()

    def skip_reason(self) -> str | None:
        """Why there is no Jira source to read (KPI_JIRA_SOURCE=none, or a dataset without jira/), else None."""
        return skip_reason("jira", "KPI_JIRA_SOURCE", self.source, self.from_dataset)

    def location(self) -> str:
        """Where the rows come from, for messages: `KPI_JIRA_SOURCE=...` or the dataset's jira/ folder."""
        return describe("jira", "KPI_JIRA_SOURCE", self.source, self.from_dataset)

    def spans(self, day: date) -> JiraSpans:
        """The states and events of every issue there is by the end of `day`, which serve every earlier day
        too; none when the source is skipped."""
        if self.skip_reason() is not None:
            return _NO_ISSUES
        source = self.source.strip()
        if not source:
            raise SourceError("KPI_JIRA_SOURCE is empty: set it to a folder of Jira search-response files or to 'api'")
        if source.lower() == "api":
            return self._api_spans(day)
        return _export_spans(Path(source))

    def _api_spans(self, day: date) -> JiraSpans:
        if self.state_dir:
            return self._incremental_spans()
        cache_key = self._api_cache_key()
        with _lock:
            cached = _api_cache.get(cache_key)
            if cached is not None and day <= cached[0]:
                return cached[1]
        site = JiraCloud(self.url, self.email, self.api_token)
        export = site.issues_created_by(self.jql, day)
        spans = spans_of(export.issues, export.custom_fields, site.url)
        del export
        return_freed_memory()  # the pages' payloads are gone: only the spans stay resident
        with _lock:
            _api_cache[cache_key] = (day, spans)
        return spans

    def _incremental_spans(self) -> JiraSpans:
        """Issues updated since the kept cursor (minus the overlap), merged over the kept ones, saved."""
        assert self.state_dir
        if self._synced is None:
            site = JiraCloud(self.url, self.email, self.api_token)
            path = state_path(Path(self.state_dir).expanduser(), site.url, self.jql or "")
            state = load_state(path)
            fresh = site.issues_updated_since(self.jql, state.read_from())
            export = state.merged(fresh)
            save_state(path, export, site.url, self.jql or "")
            custom = site.custom_fields().merged(fresh.custom_fields).merged(export.custom_fields)
            self._synced = spans_of(export.issues, custom, site.url)
            del export, fresh, state
            return_freed_memory()
        return self._synced

    def release(self) -> None:
        """Drop what this source keeps in the process: a run's Jira step calls it once its rows are in the
        warehouse, so the spans (about 0.6 GB for 238,000 issues) do not sit beside extraction for the rest
        of the run (in-process executor). The next `spans` call reads the source again."""
        with _lock:
            source = self.source.strip()
            if source and source.lower() != "api":
                _export_cache.pop(Path(source).resolve(), None)
            _api_cache.pop(self._api_cache_key(), None)
        self._synced = None
        return_freed_memory()

    def _api_cache_key(self) -> tuple[str, str, str]:
        return (self.url or "", self.email or "", self.jql or "")

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self._synced = None


def _export_spans(folder: Path) -> JiraSpans:
    folder = folder.resolve()
    fingerprint = _fingerprint(folder)
    with _lock:
        cached = _export_cache.get(folder)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
    spans = read_export_spans(folder)
    return_freed_memory()  # the read parsed every page: 230 MB of freed heap at demo --scale 100
    with _lock:
        _export_cache[folder] = (fingerprint, spans)
    return spans


def _fingerprint(folder: Path) -> _ExportFingerprint:
    """Names, sizes and modification times of the export's files: any edit, addition or removal shows."""
    if not folder.is_dir():
        return ()
    return tuple((str(p.relative_to(folder)), p.stat().st_mtime_ns, p.stat().st_size) for p in export_files(folder))
