"""Jira search responses -> issue dicts: pages of both search styles, timestamps, ADF text, custom field ids.

Everything here reads payloads the way Jira sends them (REST v2 or v3, classic `/search` or enhanced
`/search/jql`), so export folders and live API pages go through the same code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kpi_pipeline.sources.errors import SourceError

STORY_POINT_NAMES = ("story points", "story point estimate")
SPRINT_NAMES = ("sprint",)
STORY_POINT_SCHEMA = "com.pyxis.greenhopper.jira:jsw-story-points"
SPRINT_SCHEMA = "com.pyxis.greenhopper.jira:gh-sprint"
_LEGACY_SPRINT = re.compile(r"com\.atlassian\.greenhopper\.service\.sprint\.Sprint@\w*\[(?P<attrs>.*)\]", re.S)


def parse_timestamp(text: str) -> datetime:
    """A Jira timestamp ("2026-07-03T10:15:00.000+0000", "+01:00" or "Z") as an aware UTC datetime."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    return value.astimezone(UTC)


def adf_to_text(value: Any) -> str | None:
    """Plain text of a rich-text value: v3 sends Atlassian Document Format JSON, v2 sends a string."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        return str(value)
    lines = (line.strip() for line in _render_adf(value).splitlines())
    return "\n".join(line for line in lines if line) or None


_ADF_BLOCKS = {"paragraph", "heading", "blockquote", "codeBlock", "panel", "rule", "mediaSingle", "expand"}


def _render_adf(node: Mapping[str, Any]) -> str:
    """Blocks end in a newline, list items get a dash, table cells are joined with ' | '."""
    kind = node.get("type")
    attrs = node.get("attrs") or {}
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    if kind in {"mention", "status", "emoji"}:
        return str(attrs.get("text") or attrs.get("shortName") or "")
    if kind in {"inlineCard", "blockCard", "embedCard"}:
        return str(attrs.get("url") or "")
    if kind == "date":
        return str(attrs.get("timestamp") or "")
    children = [c for c in node.get("content") or [] if isinstance(c, Mapping)]
    if kind == "tableRow":
        return " | ".join(" ".join(_render_adf(c).split()) for c in children) + "\n"
    inner = "".join(_render_adf(c) for c in children)
    if kind == "listItem":
        return "- " + inner.strip() + "\n"
    return inner + "\n" if kind in _ADF_BLOCKS else inner


@dataclass(frozen=True)
class CustomFields:
    """Which custom field ids (and changelog field names) hold story points and the sprint on this site."""

    story_point_ids: tuple[str, ...] = ()
    sprint_ids: tuple[str, ...] = ()
    story_point_names: frozenset[str] = frozenset(STORY_POINT_NAMES)
    sprint_names: frozenset[str] = frozenset(SPRINT_NAMES)

    def merged(self, other: CustomFields) -> CustomFields:
        return CustomFields(
            _unique(self.story_point_ids + other.story_point_ids),
            _unique(self.sprint_ids + other.sprint_ids),
            self.story_point_names | other.story_point_names,
            self.sprint_names | other.sprint_names,
        )

    @classmethod
    def from_names(cls, names: Mapping[str, str]) -> CustomFields:
        """From the `names` map of a search response with `expand=names` ({field id: display name})."""
        return cls._from_pairs((fid, str(name), None) for fid, name in names.items())

    @classmethod
    def from_field_list(cls, fields: Iterable[Mapping[str, Any]]) -> CustomFields:
        """From GET /rest/api/2/field: names plus the schema's custom type, which survives renames."""
        return cls._from_pairs(
            (str(f.get("id")), str(f.get("name", "")), (f.get("schema") or {}).get("custom")) for f in fields
        )

    @classmethod
    def _from_pairs(cls, pairs: Iterable[tuple[str, str, str | None]]) -> CustomFields:
        points: list[tuple[int, str]] = []
        sprints: list[str] = []
        point_names: set[str] = set(STORY_POINT_NAMES)
        sprint_names: set[str] = set(SPRINT_NAMES)
        for fid, name, custom in pairs:
            lowered = name.strip().lower()
            if lowered in STORY_POINT_NAMES or custom == STORY_POINT_SCHEMA:
                rank = STORY_POINT_NAMES.index(lowered) if lowered in STORY_POINT_NAMES else len(STORY_POINT_NAMES)
                points.append((rank, fid))
                point_names.add(lowered)
            elif lowered in SPRINT_NAMES or custom == SPRINT_SCHEMA:
                sprints.append(fid)
                sprint_names.add(lowered)
        return cls(
            tuple(fid for _, fid in sorted(points)), tuple(sprints), frozenset(point_names), frozenset(sprint_names)
        )

    def with_sprint_fields_found_in(self, issues: Iterable[Mapping[str, Any]]) -> CustomFields:
        """Without a names map, recognise the sprint field by its values, which have a telltale shape."""
        return self.with_sprint_fields(fid for issue in issues for fid in sprint_like_fields(issue))

    def with_sprint_fields(self, found: Iterable[str]) -> CustomFields:
        """These sprint-like fields (`sprint_like_fields`) as the sprint fields, unless the names map gave some."""
        if self.sprint_ids:
            return self
        ids = tuple(sorted(set(found)))
        return CustomFields(self.story_point_ids, ids, self.story_point_names, self.sprint_names)


def sprint_like_fields(issue: Mapping[str, Any]) -> frozenset[str]:
    """The custom fields of `issue` whose values look like sprints."""
    return frozenset(
        fid
        for fid, value in (issue.get("fields") or {}).items()
        if fid.startswith("customfield_") and _looks_like_sprints(value)
    )


def _unique(ids: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ids))


def _looks_like_sprints(value: Any) -> bool:
    if not isinstance(value, list) or not value:
        return False
    first = value[0]
    if isinstance(first, str):
        return bool(_LEGACY_SPRINT.search(first))
    return isinstance(first, Mapping) and {"id", "name", "state"} <= first.keys()


@dataclass(frozen=True)
class Sprint:
    name: str
    state: str | None


def parse_sprints(value: Any) -> list[Sprint]:
    """Sprint field values in either shape: legacy "…Sprint@1a2b[id=2,…,name=SP Sprint 2,…]" strings or objects."""
    if not isinstance(value, list):
        return []
    sprints: list[Sprint] = []
    for item in value:
        if isinstance(item, Mapping) and item.get("name"):
            sprints.append(Sprint(str(item["name"]), _lower(item.get("state"))))
        elif isinstance(item, str):
            match = _LEGACY_SPRINT.search(item)
            if match:
                attrs = _legacy_attrs(match.group("attrs"))
                if attrs.get("name"):
                    sprints.append(Sprint(attrs["name"], _lower(attrs.get("state"))))
    return sprints


def _legacy_attrs(text: str) -> dict[str, str]:
    """`id=2,rapidViewId=2,state=FUTURE,name=SP Sprint 2,goal=<null>` -> dict; names may contain commas."""
    parts = re.split(r",(?=\w+=)", text)
    return dict(part.split("=", 1) for part in parts if "=" in part)


def _lower(value: Any) -> str | None:
    return str(value).lower() if value else None


def current_sprint_name(value: Any) -> str | None:
    """The sprint an issue is in now: the last one still open (active or future), else the last it was in."""
    sprints = parse_sprints(value)
    open_ones = [s for s in sprints if s.state != "closed"]
    chosen = (open_ones or sprints)[-1:] if sprints else []
    return chosen[0].name if chosen else None


@dataclass
class SearchPage:
    """One search response: its issues, the `names` map if expanded, and where the next page starts."""

    issues: list[dict[str, Any]]
    names: dict[str, str] = field(default_factory=dict)
    next_page_token: str | None = None
    is_last: bool = True


def parse_search_page(data: Any, origin: str) -> SearchPage:
    """Validate a classic (`startAt`/`total`) or enhanced (`nextPageToken`/`isLast`) search response."""
    if not isinstance(data, Mapping) or not isinstance(data.get("issues"), list):
        raise SourceError(
            f"{origin} is not a Jira search response: expected a JSON object with an 'issues' list "
            "(the body of /rest/api/3/search/jql or /rest/api/2/search); remove the file or re-export it"
        )
    for position, issue in enumerate(data["issues"]):
        if not isinstance(issue, Mapping) or not issue.get("key") or not isinstance(issue.get("fields"), Mapping):
            raise SourceError(
                f"{origin}: issue #{position} has no 'key' or 'fields' object; "
                "export search results with fields included (fields=*all)"
            )
    token = data.get("nextPageToken") or None
    if "isLast" in data:
        is_last = bool(data["isLast"])
    elif "total" in data:
        is_last = int(data.get("startAt", 0)) + len(data["issues"]) >= int(data["total"])
    else:
        is_last = token is None
    names = data.get("names")
    names = names if isinstance(names, Mapping) else {}
    return SearchPage([dict(i) for i in data["issues"]], {str(k): str(v) for k, v in names.items()}, token, is_last)


@dataclass
class JiraExport:
    """Issues of an export (each key once, latest `updated` wins) and the custom fields they use."""

    issues: list[dict[str, Any]]
    custom_fields: CustomFields
    names: dict[str, str] = field(default_factory=dict)


def read_export_folder(folder: Path) -> JiraExport:
    """Read every `*.json` search page under `folder` (sorted by path, so later files win ties); an empty
    folder is an export without issues."""
    return merge_pages([read_search_file(path) for path in export_files(folder)])


def export_files(folder: Path) -> list[Path]:
    """The search pages of an export folder in reading order (sorted by path); an error if it is no folder."""
    if not folder.is_dir():
        raise SourceError(
            f"KPI_JIRA_SOURCE={str(folder)!r} is not a folder: point it at a folder of Jira search-response "
            "JSON files, or set it to 'api' to read Jira Cloud"
        )
    return sorted(p for p in folder.rglob("*.json") if p.is_file() and not p.name.startswith("."))


def read_search_file(path: Path) -> SearchPage:
    """One exported search page, validated."""
    return parse_search_page(_read_json(path), str(path))


def merge_pages(pages: Iterable[SearchPage]) -> JiraExport:
    """Keep each issue once: the copy with the latest `updated`, the later page on a tie."""
    by_key: dict[str, dict[str, Any]] = {}
    names: dict[str, str] = {}
    for page in pages:
        names.update(page.names)
        for issue in page.issues:
            kept = by_key.get(issue["key"])
            if kept is None or updated_at(issue) >= updated_at(kept):
                by_key[issue["key"]] = issue
    issues = list(by_key.values())
    return JiraExport(issues, CustomFields.from_names(names).with_sprint_fields_found_in(issues), names)


def updated_at(issue: Mapping[str, Any]) -> datetime:
    """When the issue was last updated (else created): of two copies of a key, the later one is kept."""
    raw = issue["fields"].get("updated") or issue["fields"].get("created")
    try:
        return parse_timestamp(raw) if raw else datetime.min.replace(tzinfo=UTC)
    except ValueError:
        raise SourceError(f"issue {issue['key']}: 'updated' is not a Jira timestamp: {raw!r}") from None


def _read_json(path: Path) -> Any:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}): re-save it as UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}): fix or re-export the file"
        ) from None
