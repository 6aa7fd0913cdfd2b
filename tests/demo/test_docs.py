"""The demo docs folder: dated markdown reports that the docs source reads, with the planted KPI lines."""

from __future__ import annotations

from collections import Counter

import pytest

from kpi_pipeline.demo import DatasetSummary, generate_dataset
from kpi_pipeline.sources.docs import folder_docs


@pytest.fixture(scope="module", params=["standard", "holdout"])
def dataset(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DatasetSummary:
    seed = 7 if request.param == "standard" else 11
    return generate_dataset(tmp_path_factory.mktemp("docs"), seed=seed, phrasings=request.param)


def test_every_doc_is_dated_in_the_quarter_and_titled(dataset: DatasetSummary) -> None:
    rows = folder_docs(dataset.out_dir / "docs")
    assert len(rows) == dataset.docs
    assert all("2026-07-01" <= r["day"].isoformat() <= "2026-09-30" and r["title"] and r["author"] for r in rows)
    kinds = Counter(r["path"].split("/")[0] for r in rows)
    assert kinds["status"] == 13 and kinds["postmortems"] >= 3 and kinds["surveys"] == 3 and kinds["reviews"] == 3


def test_planted_doc_lines_are_in_the_doc_of_their_day(dataset: DatasetSummary) -> None:
    rows = folder_docs(dataset.out_dir / "docs")
    planted = [s for p in dataset.plants for s in p.statements if s.source_type == "docs"]
    assert planted
    for s in planted:
        assert any(r["day"] == s.day and r["path"].startswith(s.place) and s.text in r["text"] for r in rows), s
