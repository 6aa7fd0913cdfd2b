"""Docs -> raw.docs rows: folder mode dates files by front matter, git mode by commit."""

from __future__ import annotations

import os
import subprocess
from datetime import date
from pathlib import Path

import pytest

from kpi_pipeline.sources.docs import DOCS_COLUMNS, day_reader, docs_for_day, folder_docs, parse_document
from kpi_pipeline.sources.errors import SourceError
from kpi_pipeline.warehouse.tables import RAW_DOCS

STATUS = b"---\ntitle: Weekly status\ndate: 2026-07-10\nauthor: Priya Sharma\n---\n\n# Status\n\nError rate 3.4%.\n"


def _write(root: Path, name: str, content: bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# --- parsing one document -------------------------------------------------------------------------------------


def test_front_matter_gives_title_day_and_author_and_is_removed_from_the_text() -> None:
    doc = parse_document("status.md", STATUS)
    assert (doc.title, doc.day, doc.author) == ("Weekly status", date(2026, 7, 10), "Priya Sharma")
    assert doc.text == "# Status\n\nError rate 3.4%.\n"


def test_title_falls_back_to_the_first_heading_then_the_file_name() -> None:
    assert parse_document("a/notes.md", b"intro\n\n## Q3 review ##\n\ntext\n").title == "Q3 review"
    assert parse_document("a/notes.md", b"just text\n").title == "notes"


def test_authors_lists_are_joined_and_datetimes_become_their_utc_day() -> None:
    doc = parse_document("p.md", b"---\nauthors:\n  - ewdurbin\n  - di\ndate: 2026-07-02T23:30:00-05:00\n---\nx\n")
    assert doc.author == "ewdurbin, di"
    assert doc.day == date(2026, 7, 3)


def test_a_date_in_the_file_name_dates_a_file_without_front_matter() -> None:
    assert parse_document("triage/2026-08-09.md", b"# 2026-08-09 Triage Log\n").day == date(2026, 8, 9)
    assert parse_document("notes.md", b"# Notes\n").day is None


def test_front_matter_after_an_html_comment_still_counts() -> None:
    doc = parse_document("x.md", b"<!-- excerpt -->\n---\ntitle: Incident\ndate: 2026-09-08\n---\n\nBody\n")
    assert (doc.title, doc.day) == ("Incident", date(2026, 9, 8))
    assert doc.text.endswith("Body\n") and "title:" not in doc.text


def test_non_utf8_is_an_error_naming_the_file() -> None:
    with pytest.raises(SourceError, match=r"report\.md: not UTF-8"):
        parse_document("report.md", "caf\xe9".encode("latin-1"))


def test_bad_front_matter_is_an_error_naming_the_file() -> None:
    with pytest.raises(SourceError, match=r"bad\.md: the front matter is not valid YAML"):
        parse_document("bad.md", b"---\ntitle: [unclosed\n---\n")
    with pytest.raises(SourceError, match=r"when\.md: front-matter date 'next tuesday' is not a date"):
        parse_document("when.md", b"---\ndate: next tuesday\n---\n")


# --- folder mode ----------------------------------------------------------------------------------------------


def test_folder_rows_of_a_day_have_the_raw_docs_columns(tmp_path: Path) -> None:
    _write(tmp_path, "status/w28.md", STATUS)
    _write(tmp_path, "status/w27.md", STATUS.replace(b"2026-07-10", b"2026-07-03"))
    _write(tmp_path, "data.csv", b"not,a,doc\n")
    frame = docs_for_day(tmp_path, date(2026, 7, 10))
    assert list(frame.columns) == DOCS_COLUMNS == [c for c in RAW_DOCS.column_names if c != "ingested_at"]
    assert frame["path"].tolist() == ["status/w28.md"]
    row = frame.iloc[0]
    assert (row["title"], row["author"], row["day"]) == ("Weekly status", "Priya Sharma", date(2026, 7, 10))
    assert len(row["revision"]) == 64
    assert docs_for_day(tmp_path, date(2026, 7, 11)).empty


def test_a_day_reader_lists_the_folder_once_and_gives_each_day_what_docs_for_day_gives(tmp_path: Path) -> None:
    for day in ("2026-07-03", "2026-07-10", "2026-07-10", "2026-07-17"):
        _write(
            tmp_path,
            f"status/{day}-{len(list(tmp_path.rglob('*.md')))}.md",
            STATUS.replace(b"2026-07-10", day.encode()),
        )
    read = day_reader(tmp_path)
    days = [date(2026, 7, d) for d in (3, 4, 10, 17)]
    for day in days:
        assert read(day).equals(docs_for_day(tmp_path, day))
    assert [len(read(day)) for day in days] == [1, 0, 2, 1]
    _write(tmp_path, "late.md", STATUS)  # a run reads the folder as it was when the run began
    assert len(read(date(2026, 7, 10))) == 2 and len(docs_for_day(tmp_path, date(2026, 7, 10))) == 3


def test_the_revision_of_a_folder_doc_changes_with_its_content(tmp_path: Path) -> None:
    path = _write(tmp_path, "s.md", STATUS)
    before = docs_for_day(tmp_path, date(2026, 7, 10))["revision"].iloc[0]
    path.write_bytes(STATUS + b"\nMore.\n")
    after = docs_for_day(tmp_path, date(2026, 7, 10))
    assert after["revision"].iloc[0] != before
    assert after["text"].iloc[0].endswith("More.\n")


def test_undated_files_are_reported_by_name_with_the_fix(tmp_path: Path) -> None:
    _write(tmp_path, "ok.md", STATUS)
    _write(tmp_path, "drafts/idea.md", b"# Idea\n")
    with pytest.raises(SourceError, match=r"drafts/idea\.md.*date: YYYY-MM-DD"):
        docs_for_day(tmp_path, date(2026, 7, 10))


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="KPI_DOCS_SOURCE"):
        docs_for_day(tmp_path / "nope", date(2026, 7, 10))


# --- git mode -------------------------------------------------------------------------------------------------


def _git(repo: Path, *args: str, when: str | None = None, author: str = "Priya Sharma") -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": author,
        "GIT_AUTHOR_EMAIL": "p@example.invalid",
        "GIT_COMMITTER_NAME": author,
        "GIT_COMMITTER_EMAIL": "p@example.invalid",
    }
    if when:
        env |= {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q", "-b", "main")
    _write(tmp_path, "status.md", b"---\ntitle: Status v1\n---\nerror rate 3.4%\n")
    _write(tmp_path, "notes.txt", b"plain notes\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "first", when="2026-07-01T10:00:00+00:00")
    _write(tmp_path, "status.md", b"---\ntitle: Status v2\n---\nerror rate 2.9%\n")
    _git(tmp_path, "commit", "-q", "-am", "second", when="2026-07-02T09:00:00+00:00", author="Marcus Okafor")
    _write(tmp_path, "status.md", b"---\ntitle: Status v3\n---\nerror rate 2.7%\n")
    _git(tmp_path, "commit", "-q", "-am", "third", when="2026-07-02T16:00:00+00:00")
    _git(tmp_path, "rm", "-q", "notes.txt")
    _write(tmp_path, "late.md", b"# Late night\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "late", when="2026-07-02T23:30:00-05:00")
    return tmp_path


def test_git_mode_gives_one_row_per_revision_on_its_commit_day(repo: Path) -> None:
    first = docs_for_day(repo, date(2026, 7, 1))
    assert sorted(first["path"]) == ["notes.txt", "status.md"]
    second = docs_for_day(repo, date(2026, 7, 2))
    assert second["title"].tolist() == ["Status v2", "Status v3"]
    assert second["text"].tolist() == ["error rate 2.9%\n", "error rate 2.7%\n"]
    assert second["author"].tolist() == ["Marcus Okafor", "Priya Sharma"]
    assert second["revision"].nunique() == 2 and all(len(r) == 40 for r in second["revision"])
    assert set(second["day"]) == {date(2026, 7, 2)}


def test_git_days_are_utc_and_deleted_files_have_no_row(repo: Path) -> None:
    late = docs_for_day(repo, date(2026, 7, 3))  # 23:30 at -05:00 is 04:30 UTC the next day
    assert late["path"].tolist() == ["late.md"]
    assert late["title"].tolist() == ["Late night"]


def test_git_mode_ignores_the_front_matter_date(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    _write(tmp_path, "s.md", STATUS)
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "x", when="2026-08-01T12:00:00+00:00")
    assert docs_for_day(tmp_path, date(2026, 7, 10)).empty
    assert docs_for_day(tmp_path, date(2026, 8, 1))["title"].tolist() == ["Weekly status"]


def test_a_non_utf8_file_in_git_is_an_error_naming_file_and_commit(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    _write(tmp_path, "old.md", "r\xe9sum\xe9".encode("latin-1"))
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "x", when="2026-07-05T12:00:00+00:00")
    with pytest.raises(SourceError, match=r"old\.md at commit [0-9a-f]{12}: not UTF-8"):
        docs_for_day(tmp_path, date(2026, 7, 5))


def test_an_empty_repository_has_no_docs(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    frame = docs_for_day(tmp_path, date(2026, 7, 1))
    assert frame.empty and list(frame.columns) == DOCS_COLUMNS


# --- real documents -------------------------------------------------------------------------------------------


def test_pypi_blog_posts_are_dated_by_their_front_matter(realdata: Path) -> None:
    folder = realdata / "docs" / "pypi_blog_incidents_and_reports"
    rows = {r["path"]: r for r in folder_docs(folder)}
    assert len(rows) == 8  # the licence file has no doc suffix and is not read
    assert all(r["day"].isoformat() == path.removeprefix("EXCERPT_")[:10] for path, r in rows.items())
    phishing = docs_for_day(folder, date(2025, 7, 31))
    assert phishing["title"].tolist() == ["PyPI Phishing Attack: Incident Report"]
    assert phishing["author"].tolist() == ["miketheman"]
    assert not phishing["text"].iloc[0].startswith("---")


def test_an_excerpt_with_a_comment_before_its_front_matter_is_read(realdata: Path) -> None:
    folder = realdata / "docs" / "pypi_blog_incidents_and_reports"
    frame = docs_for_day(folder, date(2026, 9, 8))
    assert frame["title"].tolist() == ["Incident Report: File Hosting Errors"]
    assert "502 and 503 errors" in frame["text"].iloc[0]


def test_rustc_triage_logs_are_dated_by_file_name_and_titled_by_heading(realdata: Path) -> None:
    folder = realdata / "docs" / "rustc_perf_triage" / "triage" / "2026"
    rows = folder_docs(folder)
    assert [(r["day"].isoformat(), r["title"]) for r in rows] == [
        ("2026-08-09", "2026-08-09 Triage Log"),
        ("2026-08-18", "2026-08-18 Triage Log"),
    ]
    assert all(r["author"] is None for r in rows)


def test_the_triage_folder_reports_its_undated_readme(realdata: Path) -> None:
    with pytest.raises(SourceError, match=r"triage/README\.md"):
        folder_docs(realdata / "docs" / "rustc_perf_triage" / "triage")
