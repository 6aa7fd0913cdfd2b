"""docs/raw_tables.md documents every raw and extract column with its type."""

from __future__ import annotations

import re
from pathlib import Path

from kpi_pipeline.warehouse.tables import EXTRACT_TABLES, RAW_TABLES


def test_every_raw_and_extract_column_is_documented_with_its_type() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "raw_tables.md").read_text()
    for t in RAW_TABLES + EXTRACT_TABLES:
        section = text.split(f"## `{t.qualified}`", 1)
        assert len(section) == 2, f"{t.qualified} has no section in docs/raw_tables.md"
        body = section[1].split("\n## ", 1)[0]
        documented = dict(re.findall(r"^\| `(\w+)` \| ([A-Z ]+) \|", body, flags=re.M))
        assert documented == {c.name: c.type for c in t.columns}, t.qualified
