"""Issues from Jira Cloud through the `jira` library: enhanced JQL search, complete changelogs, polite retries.

The library's ResilientSession retries only 429/503, sleeps up to 2x Retry-After and re-runs a whole paged
search on failure. Its retries are switched off (`max_retries=0`) and every request goes through
`JiraCloud._call` instead: one page or one changelog slice at a time, 429 waits Retry-After (capped), 5xx
and dropped connections back off exponentially, all bounded by one `RetryPolicy`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, TypeVar

import requests
from jira import JIRA, JIRAError

from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.sources.jira_export import CustomFields, JiraExport, SearchPage, merge_pages, parse_search_page

T = TypeVar("T")
_ORDER_BY = re.compile(r"\border\s+by\b.*$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying one request: `attempts` in all, waits capped at `max_wait_seconds`."""

    attempts: int = 6
    max_wait_seconds: float = 60.0
    backoff_seconds: float = 1.0

    def wait(self, attempt: int, retry_after: str | None) -> float:
        """Retry-After when the server gives one (seconds or an HTTP date), else exponential backoff."""
        suggested = _retry_after_seconds(retry_after)
        if suggested is None:
            suggested = self.backoff_seconds * 2 ** (attempt - 1)
        return min(max(suggested, 0.0), self.max_wait_seconds)


def _retry_after_seconds(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return float(header)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(header).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


def day_bounded_jql(jql: str, day: date) -> str:
    """`jql` restricted to issues created by the end of `day`, in a stable order.

    JQL dates are read in the Jira user's time zone (UTC-12..UTC+14), so the bound is one day later than
    the UTC day needs; callers drop issues created after the day's end themselves.
    """
    condition = _ORDER_BY.sub("", jql).strip()
    bound = day + timedelta(days=2)
    return f'({condition}) AND created < "{bound.isoformat()}" ORDER BY key ASC'


def updated_since_jql(jql: str, since: datetime | None) -> str:
    """`jql` restricted to issues updated at or after `since` (all of them when None), in a stable order.

    `since` is written in UTC to the minute; the caller has already widened it by `INCREMENTAL_OVERLAP`,
    which also covers Jira reading JQL times in the user's time zone.
    """
    condition = _ORDER_BY.sub("", jql).strip()
    if since is None:
        return f"({condition}) ORDER BY key ASC"
    return f'({condition}) AND updated >= "{since.astimezone(UTC):%Y-%m-%d %H:%M}" ORDER BY key ASC'


class JiraCloud:
    """A signed-in Jira Cloud site. Credentials stay inside the client; messages name settings, never values."""

    def __init__(
        self,
        url: str | None,
        email: str | None,
        api_token: str | None,
        *,
        page_size: int = 100,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout_seconds: float = 60.0,
    ) -> None:
        missing = [
            name
            for name, value in (("JIRA_URL", url), ("JIRA_EMAIL", email), ("JIRA_API_TOKEN", api_token))
            if not value
        ]
        if missing:
            raise SourceError(
                f"KPI_JIRA_SOURCE=api needs {', '.join(missing)}: set JIRA_URL to the site "
                "(https://your-site.atlassian.net), JIRA_EMAIL to the account and JIRA_API_TOKEN to an API token "
                "from https://id.atlassian.com/manage-profile/security/api-tokens"
            )
        assert url and email and api_token
        if not url.startswith(("https://", "http://")):
            raise SourceError(f"JIRA_URL={url!r} is not a URL: write the site as https://your-site.atlassian.net")
        self.url = url.rstrip("/")
        self.page_size = page_size
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._custom_fields: CustomFields | None = None
        self._client: JIRA = self._call(
            lambda: JIRA(
                server=self.url,
                basic_auth=(email, api_token),
                options={"rest_api_version": "3"},
                max_retries=0,
                timeout=timeout_seconds,
            ),
            "connecting",
        )
        if self._client.deploymentType != "Cloud":
            raise SourceError(
                f"JIRA_URL={self.url} is Jira {self._client.deploymentType or 'of an unknown kind'}, not Jira Cloud: "
                "export search pages to a folder and point KPI_JIRA_SOURCE at it instead"
            )

    def issues_created_by(self, jql: str | None, day: date) -> JiraExport:
        """Every issue `jql` matches that was created by the end of `day` (UTC, with a day's margin), each
        with its complete changelog and comments."""
        return self._search(_required(jql), day_bounded_jql(_required(jql), day))

    def issues_updated_since(self, jql: str | None, since: datetime | None) -> JiraExport:
        """Every issue `jql` matches that was updated at or after `since` (every issue when None), each with its
        complete changelog and comments: the incremental read."""
        return self._search(_required(jql), updated_since_jql(_required(jql), since))

    def _search(self, jql: str, bounded: str) -> JiraExport:
        """All pages of the search `bounded` (a form of the configured `jql`), issues completed."""
        pages: list[SearchPage] = []
        token: str | None = None
        seen_tokens: set[str] = set()
        while True:
            raw = self._call(partial(self._search_page, bounded, token), f"searching with JIRA_JQL={jql!r}")
            page = parse_search_page(raw, f"{self.url} search page {len(pages) + 1}")
            pages.append(page)
            token = page.next_page_token
            if page.is_last or not token:
                break
            if token in seen_tokens:
                raise SourceError(f"{self.url} returned the same nextPageToken twice: the search would never end")
            seen_tokens.add(token)
        merged = merge_pages(pages)
        for issue in merged.issues:
            self._complete(issue)
        return JiraExport(merged.issues, self.custom_fields().merged(merged.custom_fields), merged.names)

    def custom_fields(self) -> CustomFields:
        """Story point and sprint field ids of this site, from GET /rest/api/3/field (read once)."""
        if self._custom_fields is None:
            fields = self._call(self._client.fields, "reading the field list")
            self._custom_fields = CustomFields.from_field_list(fields)
        return self._custom_fields

    def _search_page(self, jql: str, token: str | None) -> Any:
        return self._client.enhanced_search_issues(
            jql,
            nextPageToken=token,
            maxResults=self.page_size,
            fields="*all",
            expand="changelog,names",
            json_result=True,
        )

    def _complete(self, issue: dict[str, Any]) -> None:
        """Replace a capped embedded changelog or comment list with the full one."""
        key = issue["key"]
        changelog = issue.get("changelog")
        if isinstance(changelog, Mapping) and _truncated(changelog, "histories"):
            histories = self._all_pages(f"issue/{key}/changelog", "values")
            issue["changelog"] = {
                "startAt": 0,
                "maxResults": len(histories),
                "total": len(histories),
                "histories": histories,
            }
        comments = issue["fields"].get("comment")
        if isinstance(comments, Mapping) and _truncated(comments, "comments"):
            everything = self._all_pages(f"issue/{key}/comment", "comments")
            issue["fields"]["comment"] = {
                "startAt": 0,
                "maxResults": len(everything),
                "total": len(everything),
                "comments": everything,
            }

    def _all_pages(self, path: str, items_key: str) -> list[dict[str, Any]]:
        """Every item of a `startAt`-paged issue resource."""
        items: list[dict[str, Any]] = []
        while True:
            params = {"startAt": len(items), "maxResults": self.page_size}
            page = self._call(partial(self._client._get_json, path, params=params), f"reading {path}")
            batch = page.get(items_key) or []
            items.extend(batch)
            if not batch or page.get("isLast") or len(items) >= int(page.get("total", len(items))):
                return items

    def _call(self, call: Callable[[], T], what: str) -> T:
        """Run one request; wait out 429s and retry 5xx / connection drops within the retry policy."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return call()
            except JIRAError as exc:
                status = exc.status_code or 0
                if status in (401, 403):
                    raise SourceError(
                        f"Jira at JIRA_URL={self.url} rejected the credentials (HTTP {status}) while {what}: "
                        "check JIRA_EMAIL and JIRA_API_TOKEN (a Jira Cloud API token, not the account password)"
                    ) from None
                retryable = status == 429 or status >= 500
                if not retryable or attempt == self.retry.attempts:
                    raise SourceError(
                        f"Jira at JIRA_URL={self.url} answered HTTP {status} while {what}"
                        f"{' after ' + str(attempt) + ' attempts' if retryable else ''}: {exc.text or 'no details'}"
                    ) from None
                headers = exc.response.headers if exc.response is not None else {}
                self._sleep(self.retry.wait(attempt, headers.get("Retry-After") if status == 429 else None))
            except requests.RequestException as exc:
                if attempt == self.retry.attempts:
                    raise SourceError(
                        f"cannot reach Jira at JIRA_URL={self.url} while {what} ({type(exc).__name__}): "
                        "check the URL and the network"
                    ) from None
                self._sleep(self.retry.wait(attempt, None))
            except SourceError:
                raise
            except ValueError:
                raise SourceError(
                    f"JIRA_URL={self.url} did not answer with JSON while {what}: is it the Jira site's base URL?"
                ) from None


def _required(jql: str | None) -> str:
    if not jql or not jql.strip():
        raise SourceError('KPI_JIRA_SOURCE=api needs JIRA_JQL, e.g. JIRA_JQL="project = PLAT"')
    return jql


def _truncated(block: Mapping[str, Any], items_key: str) -> bool:
    return int(block.get("total") or 0) > len(block.get(items_key) or [])
