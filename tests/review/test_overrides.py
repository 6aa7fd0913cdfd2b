"""overrides/*.yaml: reviewed decisions, read strictly (file, entry and key named), written back by review."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from kpi_pipeline.review.overrides import (
    NO_READING,
    Override,
    OverrideError,
    load_overrides,
    match,
    reading_fingerprint,
    write_override,
)
from tests.quality.synthetic import evidence, frame, metric_row

DAY = date(2026, 7, 3)
AT = datetime(2026, 7, 10, 12, 0, tzinfo=UTC)
GOOD = """overrides:
  - metric: api_error_rate
    day: 2026-07-03
    action: set
    value: 2.5
    reason: the incident channel double counted retries
    reviewer: alice
    at: 2026-07-10T12:00:00+00:00
    reading: 0123456789ab
"""


def write(folder: Path, text: str, name: str = "team.yaml") -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_entry_reads_into_an_override(tmp_path: Path) -> None:
    path = write(tmp_path / "overrides", GOOD)
    [o] = load_overrides(tmp_path / "overrides", ["api_error_rate"])
    assert (o.metric, o.day, o.action, o.value, o.reviewer, o.at, o.reading, o.file) == (
        "api_error_rate",
        DAY,
        "set",
        2.5,
        "alice",
        AT,
        "0123456789ab",
        path,
    )
    assert o.note() == "set to 2.5 by alice on 2026-07-10: the incident channel double counted retries"


def test_no_folder_means_no_overrides(tmp_path: Path) -> None:
    assert load_overrides(tmp_path / "missing") == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("action: set", "action: fix"), r"overrides\[0\] \(api_error_rate\): key 'action': 'fix' is not one of"),
        (("    value: 2.5\n", ""), r"key 'value': a set needs the number to publish"),
        (("action: set", "action: accept"), r"key 'value': only a set takes a value"),
        (("    reviewer: alice\n", ""), r"overrides\[0\]: key 'reviewer' is missing"),
        (("day: 2026-07-03", "day: July 3rd"), r"key 'day': 'July 3rd' is not a day; write YYYY-MM-DD"),
        (("reading: 0123456789ab", "reading: abc"), r"key 'reading': 'abc' is not a reading fingerprint"),
        (("reason:", "why:"), r"unknown key 'why'"),
        (("metric: api_error_rate", "metric: error_rate"), r"key 'metric': 'error_rate' is not a metric"),
        (("overrides:", "decisions:"), r"expected one key `overrides:`"),
        (("  - metric", "  -metric"), r"not valid YAML \(line"),
    ],
)
def test_a_malformed_entry_names_the_file_the_entry_and_the_key(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = write(tmp_path / "overrides", GOOD.replace(*change))
    with pytest.raises(OverrideError, match=message) as raised:
        load_overrides(tmp_path / "overrides", ["api_error_rate"])
    assert str(raised.value).startswith(str(path)) and "\n" not in str(raised.value)


def test_two_files_deciding_the_same_metric_day_are_refused(tmp_path: Path) -> None:
    write(tmp_path / "overrides", GOOD, "a.yaml")
    write(tmp_path / "overrides", GOOD, "b.yaml")
    with pytest.raises(OverrideError, match=r"b.yaml: overrides\[0\]: api_error_rate on 2026-07-03 is already decided"):
        load_overrides(tmp_path / "overrides")


def test_the_fingerprint_follows_the_value_and_the_quotes_not_their_order() -> None:
    quotes = evidence("errors at 3%", "3% of requests failed")
    base = reading_fingerprint(3.0, quotes)
    assert reading_fingerprint(3.0, evidence("3% of requests failed", "errors at 3%")) == base
    assert reading_fingerprint(3.1, quotes) != base
    assert reading_fingerprint(3.0, evidence("errors at 3%")) != base
    assert reading_fingerprint(None, quotes) == reading_fingerprint(float("nan"), "[]") == NO_READING


def test_an_override_is_stale_when_its_reading_changed_or_was_not_read() -> None:
    row = metric_row("api_error_rate", DAY, 3.0)
    decided = Override(
        "api_error_rate", DAY, "accept", None, "ok", "bob", AT, reading_fingerprint(3.0, row["evidence"])
    )
    assert not match([decided], frame(row))[0].stale
    assert match([decided], frame(metric_row("api_error_rate", DAY, 3.5)))[0].stale
    unread = metric_row("api_error_rate", DAY, None, 0.0, status="unread")
    assert match([decided], frame(unread))[0].stale


def test_writing_replaces_the_entry_for_the_same_metric_day_and_reads_back(tmp_path: Path) -> None:
    folder = tmp_path / "overrides"
    first = Override("api_error_rate", DAY, "reject", None, "wrong channel", "bob", AT, "0123456789ab")
    other = Override("nps", DAY, "accept", None, "fine", "bob", AT, "none")
    path = write_override(folder, first)
    write_override(folder, other)
    second = Override("api_error_rate", DAY, "set", 2.5, "recounted", "alice", AT, "0123456789ab")
    write_override(folder, second)
    loaded = load_overrides(folder, ["api_error_rate", "nps"])
    assert [(o.metric, o.action, o.value, o.reviewer) for o in loaded] == [
        ("api_error_rate", "set", 2.5, "alice"),
        ("nps", "accept", None, "bob"),
    ]
    assert path.name == "review.yaml"


def test_writing_refuses_a_metric_day_another_file_decides(tmp_path: Path) -> None:
    folder = tmp_path / "overrides"
    write(folder, GOOD)
    with pytest.raises(OverrideError, match=r"team.yaml: already decides api_error_rate on 2026-07-03"):
        write_override(folder, Override("api_error_rate", DAY, "reject", None, "no", "bob", AT, "none"))
