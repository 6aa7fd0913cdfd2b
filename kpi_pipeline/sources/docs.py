"""Docs -> rows of raw.docs: a plain folder (day from front matter) or a git repository (day of each commit).

Folder mode: a file's day is its front-matter `date:`, else a YYYY-MM-DD in its file name (blog posts and
triage logs are named that way); a file with neither is an error, never silently skipped, because a KPI
report without a day cannot be placed. Git mode: one row per revision of each file, on the UTC day of
the commit that wrote it, so a backfill of a past day sees the text as it was then.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
import yaml

from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.sources.urls import web_url
from kpi_pipeline.warehouse.tables import RAW_DOCS

DOC_SUFFIXES = (".md", ".markdown", ".txt", ".rst")
DOCS_COLUMNS = [c for c in RAW_DOCS.column_names if c != "ingested_at"]
# front matter may follow HTML comments (invisible in rendered markdown), as in excerpted posts
FRONT_MATTER = re.compile(r"\A((?:\s*<!--.*?-->)*)\s*---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
NAME_DATE = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")
_BASE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _FrontMatterLoader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    """Safe YAML whose impossible dates (`date: 2026-13-45`) stay strings, so `_date` names the file and key."""


def _timestamp_or_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_FrontMatterLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


@dataclass(frozen=True)
class ParsedDoc:
    title: str
    text: str  # the body, front matter removed
    day: date | None  # front-matter date, else a date in the file name
    author: str | None
    url: str | None


def _decode(name: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{name}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None


def _front_matter(name: str, text: str) -> tuple[dict[str, Any], str]:
    match = FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.load(match.group(2), Loader=_FrontMatterLoader)
    except yaml.YAMLError as exc:
        raise SourceError(f"{name}: the front matter is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise SourceError(f"{name}: the front matter must be key: value lines such as `date: YYYY-MM-DD`")
    return meta, (match.group(1).strip() + "\n\n" + text[match.end() :]).strip() + "\n"


def _date(name: str, value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise SourceError(f"{name}: front-matter date {value!r} is not a date; write it as date: YYYY-MM-DD") from None


def _name_date(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SourceError(
            f"{name}: {text} in the file name is not a date; rename the file or add `date: YYYY-MM-DD` to its "
            "front matter"
        ) from None


def _author(meta: dict[str, Any]) -> str | None:
    author = meta.get("author", meta.get("authors"))
    if isinstance(author, list):
        return ", ".join(str(a) for a in author) or None
    return str(author) if author else None


def parse_document(name: str, raw: bytes) -> ParsedDoc:
    """Title, body, day, author and url of one file; `name` is its path, used in errors and as a last-resort title."""
    meta, body = _front_matter(name, _decode(name, raw))
    day = _date(name, meta.get("date"))
    if day is None:
        found = NAME_DATE.search(PurePosixPath(name).name)
        day = _name_date(name, found.group(1)) if found else None
    heading = HEADING.search(body)
    title = meta.get("title") or (heading.group(1) if heading else PurePosixPath(name).stem)
    return ParsedDoc(str(title), body, day, _author(meta), web_url(meta.get("url")))


def is_doc(relative: PurePosixPath) -> bool:
    """Markdown or text, outside hidden folders such as .git."""
    return relative.suffix.lower() in DOC_SUFFIXES and not any(part.startswith(".") for part in relative.parts)


@lru_cache(maxsize=65536)
def _parse_file(path: Path, name: str, mtime_ns: int, size: int) -> tuple[ParsedDoc, str]:
    """Parsed file and its content hash; keyed by mtime and size, so a day-by-day backfill reads each file once."""
    raw = path.read_bytes()
    return parse_document(name, raw), hashlib.sha256(raw).hexdigest()


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=DOCS_COLUMNS)


def _row(path: str, revision: str, doc: ParsedDoc, day: date, author: str | None) -> dict[str, Any]:
    return {
        "path": path,
        "revision": revision,
        "title": doc.title,
        "text": doc.text,
        "author": author,
        "url": doc.url,
        "day": day,
    }


def folder_docs(root: Path) -> list[dict[str, Any]]:
    """Every doc of a plain folder as a raw.docs row; undated files are reported together in one error."""
    rows: list[dict[str, Any]] = []
    undated: list[str] = []
    inside = root.resolve()
    for path in sorted(root.rglob("*")):
        relative = PurePosixPath(path.relative_to(root).as_posix())
        if not path.is_file() or not is_doc(relative):
            continue
        target = path.resolve()
        if not target.is_relative_to(inside):
            raise SourceError(
                f"{path}: links to {target}, outside the docs folder {root}; only files inside KPI_DOCS_SOURCE are "
                "read, so copy the file in or remove the link"
            )
        stat = path.stat()
        doc, digest = _parse_file(path, str(path), stat.st_mtime_ns, stat.st_size)
        if doc.day is None:
            undated.append(str(path))
            continue
        rows.append(_row(str(relative), digest, doc, doc.day, doc.author))
    if undated:
        raise SourceError(
            f"{len(undated)} doc(s) have no date: {', '.join(undated)}. Add `date: YYYY-MM-DD` to their front "
            "matter (or put the date in the file name), or move them out of the docs folder"
        )
    return rows


def _git(root: Path, *args: str) -> bytes:
    try:
        result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)
    except FileNotFoundError:
        raise SourceError(f"{root} is a git repository but the `git` command is not installed") from None
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise SourceError(f"{root}: `git {' '.join(args)}` failed: {message}")
    return result.stdout


def git_docs_for_day(root: Path, day: date) -> list[dict[str, Any]]:
    """One row per doc file written by each commit of `day` (UTC, committer time) on the checked-out branch."""
    if subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "-q", "HEAD"], capture_output=True).returncode:
        return []  # no commits yet
    log = _git(root, "log", "--reverse", "--format=%H%x1f%P%x1f%an%x1f%ct%x1e").decode("utf-8", "replace")
    rows: list[dict[str, Any]] = []
    for record in filter(None, (r.strip() for r in log.split("\x1e"))):
        sha, parents, author, committed = record.split("\x1f")
        if datetime.fromtimestamp(int(committed), UTC).date() != day:
            continue
        base = parents.split()[0] if parents else "--root"
        changed = _git(
            root, "diff-tree", "-r", "-z", "--no-commit-id", "--name-only", "--no-renames", "--diff-filter=d", base, sha
        )
        for name in sorted(filter(None, changed.decode("utf-8", "surrogateescape").split("\0"))):
            if not is_doc(PurePosixPath(name)):
                continue
            raw = _git(root, "cat-file", "blob", f"{sha}:{name}")
            doc = parse_document(f"{root / name} at commit {sha[:12]}", raw)
            rows.append(_row(name, sha, doc, day, author))
    return rows


def is_git_repository(root: Path) -> bool:
    return (root / ".git").exists()


def future_dated(source: Path, today: date) -> int:
    """Docs of a plain folder dated after `today`: no partition reads them until their day comes."""
    if not source.is_dir() or is_git_repository(source):
        return 0
    return sum(1 for row in folder_docs(source) if row["day"] > today)


def day_reader(source: Path) -> Callable[[date], pd.DataFrame]:
    """raw.docs rows (without ingested_at) of one UTC day at a time, for the days of one run: a plain folder is
    listed once and each day is a lookup (listing it for every day made a range cost days x files); a git
    repository is read day by day."""
    if not source.is_dir():
        raise SourceError(f"docs source {source} is not a folder: set KPI_DOCS_SOURCE to a folder or a git repository")
    if is_git_repository(source):
        return lambda day: _frame(git_docs_for_day(source, day))
    by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for row in folder_docs(source):
        by_day[row["day"]].append(row)
    return lambda day: _frame(by_day.get(day, []))


def docs_for_day(source: Path, day: date) -> pd.DataFrame:
    """raw.docs rows (without ingested_at) of one UTC day from a docs folder or git repository."""
    return day_reader(source)(day)
