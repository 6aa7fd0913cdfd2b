"""Docs with impossible dates, links out of the docs folder, unsafe URLs or dates in the future are refused with
the file named, or counted: never a traceback, never silently skipped."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from kpi_pipeline.resources.docs import DocsSource
from kpi_pipeline.sources.docs import docs_for_day, folder_docs, future_dated, parse_document
from kpi_pipeline.sources.errors import SourceError

DAY = date(2026, 7, 2)


def doc(day: str, **meta: str) -> str:
    lines = [f"date: {day}", *(f"{k}: {v}" for k, v in meta.items())]
    return "---\n" + "\n".join(lines) + "\n---\n# Status\nError rate 3%.\n"


def test_an_impossible_front_matter_date_names_the_file_and_key() -> None:
    with pytest.raises(SourceError) as caught:
        parse_document("docs/status.md", doc("2026-13-45").encode())
    assert str(caught.value) == (
        "docs/status.md: front-matter date '2026-13-45' is not a date; write it as date: YYYY-MM-DD"
    )


def test_an_impossible_date_in_the_file_name_names_the_file() -> None:
    with pytest.raises(SourceError, match=r"^notes/2026-02-30-status\.md: 2026-02-30 in the file name is not a date"):
        parse_document("notes/2026-02-30-status.md", b"# Status\n")


def test_front_matter_timestamps_still_read_as_dates() -> None:
    assert parse_document("a.md", doc("2026-07-02 23:30:00-02:00").encode()).day == date(2026, 7, 3)
    assert parse_document("a.md", doc("2026-07-02").encode()).day == DAY


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,hi", "file:///etc/passwd"])
def test_a_front_matter_url_that_is_not_http_is_dropped(url: str) -> None:
    assert parse_document("a.md", doc("2026-07-02", url=f'"{url}"').encode()).url is None


def test_a_front_matter_http_url_is_kept() -> None:
    assert parse_document("a.md", doc("2026-07-02", url="https://wiki.acme.io/status").encode()).url == (
        "https://wiki.acme.io/status"
    )


def test_a_symlink_out_of_the_docs_folder_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "private.md").write_text(doc("2026-07-02"))
    (tmp_path / "docs" / "status.md").symlink_to(tmp_path / "private.md")
    with pytest.raises(SourceError) as caught:
        docs_for_day(tmp_path / "docs", DAY)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'docs' / 'status.md'}: links to {tmp_path / 'private.md'}, outside")


def test_a_symlink_inside_the_docs_folder_is_read(tmp_path: Path) -> None:
    (tmp_path / "docs" / "2026").mkdir(parents=True)
    (tmp_path / "docs" / "2026" / "status.md").write_text(doc("2026-07-02"))
    (tmp_path / "docs" / "latest.md").symlink_to(tmp_path / "docs" / "2026" / "status.md")
    assert sorted(docs_for_day(tmp_path / "docs", DAY)["path"]) == ["2026/status.md", "latest.md"]


def test_future_dated_docs_are_counted(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    (tmp_path / "now.md").write_text(doc(today.isoformat()))
    (tmp_path / "soon.md").write_text(doc((today + timedelta(days=3)).isoformat()))
    (tmp_path / "later.md").write_text(doc((today + timedelta(days=300)).isoformat()))
    assert len(folder_docs(tmp_path)) == 3
    assert future_dated(tmp_path, today) == 2
    assert DocsSource(source=str(tmp_path)).notes() == {"future_dated_docs": 2}
    assert DocsSource(source="none").notes() == {"future_dated_docs": 0}
