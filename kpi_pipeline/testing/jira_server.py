"""A local Jira Cloud that speaks the REST endpoints the `jira` client uses for ingestion, with fault knobs.

Endpoints (under /rest/api/2 and /rest/api/3): serverInfo (the client calls it on connect and needs
deploymentType "Cloud" for enhanced search), myself, field, search/jql (GET and POST; pages chained by an
opaque nextPageToken, the last page has isLast=true and no token at all), issue/{key}/changelog and
issue/{key}/comment (startAt paging). JQL support is what ingestion sends: `project = X` and
`created < "YYYY-MM-DD"` and `updated >= "YYYY-MM-DD[ HH:MM]"` (UTC) narrow the result; other clauses
are ignored. Every search's JQL is kept in `JiraSite.queries`.

    python -m kpi_pipeline.testing.jira_server --issues DIR --port 8089
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kpi_pipeline.sources.jira_export import SPRINT_SCHEMA, parse_timestamp, read_export_folder

_API = re.compile(r"^/rest/api/[23]/(?P<path>.+?)/?$")
_ISSUE_PART = re.compile(r"^issue/(?P<key>[^/]+)/(?P<part>changelog|comment)$")
_PROJECT = re.compile(r"\bproject\s*=\s*\"?(?P<key>[A-Za-z0-9_]+)\"?", re.IGNORECASE)
_CREATED_BEFORE = re.compile(r"\bcreated\s*<\s*\"(?P<day>\d{4}-\d{2}-\d{2})\"", re.IGNORECASE)
_UPDATED_SINCE = re.compile(r"\bupdated\s*>=\s*\"(?P<at>\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2})?)\"", re.IGNORECASE)


@dataclass
class JiraSite:
    """What the local site serves, how it misbehaves, and the requests it saw (`requests`, in order)."""

    issues: list[dict[str, Any]]
    names: dict[str, str] = field(default_factory=dict)
    email: str = "ingest@example.com"
    api_token: str = "local-token"
    max_page_size: int = 100
    embedded_changelog_limit: int = 100
    embedded_comment_limit: int = 100
    rate_limit_on: frozenset[int] = frozenset()
    retry_after: str = "1"
    fail_on: frozenset[int] = frozenset()
    failure_status: int = 500
    deployment_type: str = "Cloud"
    requests: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_folder(cls, folder: Path, **knobs: Any) -> JiraSite:
        """Serve the issues of a folder of search pages (an export), each key once."""
        export = read_export_folder(folder)
        return cls(issues=export.issues, names=export.names, **knobs)

    def record(self, line: str) -> int:
        """Log a request and return its 1-based number (the fault knobs count these)."""
        with self._lock:
            self.requests.append(line)
            return len(self.requests)

    def field_list(self) -> list[dict[str, Any]]:
        sprint_ids = {fid for issue in self.issues for fid, v in issue["fields"].items() if _is_sprint_value(v)}
        return [
            {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": fid.startswith("customfield_"),
                "clauseNames": [name.lower()],
                "schema": {"custom": SPRINT_SCHEMA} if fid in sprint_ids else {},
            }
            for fid, name in sorted(self.names.items())
        ]


def _is_sprint_value(value: Any) -> bool:
    return isinstance(value, list) and any(
        (isinstance(v, Mapping) and "state" in v and "name" in v) or (isinstance(v, str) and ".sprint.Sprint@" in v)
        for v in value
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], site: JiraSite) -> None:
        super().__init__(address, _Handler)
        self.site = site


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the site's request log is the record."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        site = self.server.site
        parts = urlsplit(self.path)
        number = site.record(f"{method} {parts.path}")
        if number in site.rate_limit_on:
            self._send(429, {"errorMessages": ["Rate limit exceeded."]}, {"Retry-After": site.retry_after})
            return
        if number in site.fail_on:
            self._send(site.failure_status, {"errorMessages": ["Internal server error (injected)."]})
            return
        if not self._authorized(site):
            self._send(
                401,
                {"errorMessages": ["Client must be authenticated to access this resource."]},
                {"WWW-Authenticate": 'Basic realm="kpi-pipeline local Jira"'},
            )
            return
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            params.update({k: v for k, v in body.items() if v is not None})
        match = _API.match(parts.path)
        if match is None:
            self._send(404, {"errorMessages": [f"No such endpoint: {parts.path}"]})
            return
        status, payload = _route(site, method, match.group("path"), params, self._base_url())
        self._send(status, payload)

    def _authorized(self, site: JiraSite) -> bool:
        expected = base64.b64encode(f"{site.email}:{site.api_token}".encode()).decode()
        return self.headers.get("Authorization", "") == f"Basic {expected}"

    def _base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _send(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _route(site: JiraSite, method: str, path: str, params: Mapping[str, Any], base_url: str) -> tuple[int, Any]:
    if method == "GET" and path == "serverInfo":
        return 200, {
            "baseUrl": base_url,
            "version": "1001.0.0-SNAPSHOT",
            "versionNumbers": [1001, 0, 0],
            "deploymentType": site.deployment_type,
            "buildNumber": 100000,
            "serverTitle": "kpi-pipeline local Jira",
        }
    if method == "GET" and path == "myself":
        return 200, {"accountId": "local-ingest", "emailAddress": site.email, "displayName": "Local ingest"}
    if method == "GET" and path == "field":
        return 200, site.field_list()
    if path == "search/jql":
        return _search(site, params)
    part = _ISSUE_PART.match(path)
    if method == "GET" and part:
        return _issue_part(site, part.group("key"), part.group("part"), params)
    return 404, {"errorMessages": [f"No such endpoint: {method} {path}"]}


def _search(site: JiraSite, params: Mapping[str, Any]) -> tuple[int, Any]:
    jql = str(params.get("jql") or "")
    if not params.get("nextPageToken"):
        site.queries.append(jql)
    matching = [issue for issue in site.issues if _matches(jql, issue)]
    matching.sort(key=lambda i: _key_order(i["key"]))
    size = max(1, min(int(params.get("maxResults") or 50), site.max_page_size))
    token = params.get("nextPageToken")
    offset = _offset_from(str(token), jql) if token else 0
    if offset is None:
        return 400, {"errorMessages": ["The nextPageToken is not valid for this query."]}
    expand = {e.strip() for e in str(params.get("expand") or "").split(",")}
    page = [_as_found(site, issue, "changelog" in expand) for issue in matching[offset : offset + size]]
    body: dict[str, Any] = {"issues": page, "isLast": offset + size >= len(matching)}
    if not body["isLast"]:
        body["nextPageToken"] = _token(offset + size, jql)
    if "names" in expand:
        body["names"] = site.names
    return 200, body


def _as_found(site: JiraSite, issue: Mapping[str, Any], with_changelog: bool) -> dict[str, Any]:
    """The issue as search returns it: embedded changelog and comments capped, totals kept."""
    found = copy.deepcopy(dict(issue))
    found.pop("changelog", None)
    if with_changelog:
        histories = (issue.get("changelog") or {}).get("histories") or []
        limit = site.embedded_changelog_limit
        found["changelog"] = {
            "startAt": 0,
            "maxResults": limit,
            "total": len(histories),
            "histories": histories[:limit],
        }
    comment = found["fields"].get("comment")
    if isinstance(comment, dict):
        comments = comment.get("comments") or []
        limit = site.embedded_comment_limit
        found["fields"]["comment"] = {
            "startAt": 0,
            "maxResults": limit,
            "total": len(comments),
            "comments": comments[:limit],
        }
    return found


def _issue_part(site: JiraSite, key: str, part: str, params: Mapping[str, Any]) -> tuple[int, Any]:
    issue = next((i for i in site.issues if i["key"] == key or str(i.get("id")) == key), None)
    if issue is None:
        return 404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."]}
    start = int(params.get("startAt") or 0)
    size = max(1, min(int(params.get("maxResults") or 50), site.max_page_size))
    if part == "changelog":
        values = (issue.get("changelog") or {}).get("histories") or []
        chunk = values[start : start + size]
        return 200, {
            "startAt": start,
            "maxResults": size,
            "total": len(values),
            "isLast": start + size >= len(values),
            "values": chunk,
        }
    comments = (issue["fields"].get("comment") or {}).get("comments") or []
    return 200, {
        "startAt": start,
        "maxResults": size,
        "total": len(comments),
        "comments": comments[start : start + size],
    }


def _matches(jql: str, issue: Mapping[str, Any]) -> bool:
    project = _PROJECT.search(jql)
    if project and issue["key"].rsplit("-", 1)[0].upper() != project.group("key").upper():
        return False
    before = _CREATED_BEFORE.search(jql)
    if before:
        bound = datetime.fromisoformat(before.group("day")).replace(tzinfo=UTC)
        if parse_timestamp(issue["fields"]["created"]) >= bound:
            return False
    since = _UPDATED_SINCE.search(jql)
    if since:
        start = datetime.fromisoformat(since.group("at")).replace(tzinfo=UTC)
        updated = issue["fields"].get("updated") or issue["fields"]["created"]
        if parse_timestamp(updated) < start:
            return False
    return True


def _token(offset: int, jql: str) -> str:
    raw = json.dumps({"offset": offset, "query": _fingerprint(jql)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _offset_from(token: str, jql: str) -> int | None:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        return None
    if not isinstance(decoded, dict) or decoded.get("query") != _fingerprint(jql):
        return None
    return int(decoded["offset"])


def _fingerprint(jql: str) -> str:
    return hashlib.sha256(jql.encode()).hexdigest()[:16]


def _key_order(key: str) -> tuple[str, int]:
    project, _, number = key.rpartition("-")
    return (project, int(number) if number.isdigit() else 0)


@contextmanager
def serve_jira(site: JiraSite, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run the site on a background thread; yields its base URL (pass it as JIRA_URL)."""
    server = _Server((host, port), site)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="local-jira", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a folder of Jira search pages as a local Jira Cloud.")
    parser.add_argument("--issues", type=Path, required=True, help="folder of search-response JSON files")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--email", default=JiraSite.email)
    parser.add_argument("--token", default=JiraSite.api_token, help="API token the site accepts")
    parser.add_argument("--page-size", type=int, default=JiraSite.max_page_size, help="largest page served")
    args = parser.parse_args(argv)
    site = JiraSite.from_folder(args.issues, email=args.email, api_token=args.token, max_page_size=args.page_size)
    server = _Server((args.host, args.port), site)
    print(f"local Jira with {len(site.issues)} issues on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
