"""`eval` on a dataset where one day breaks the quarantine ceiling: the day is held back and reported in the
figures with its reason, the other days are published and scored, and nothing raises."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from kpi_pipeline.catalog import Catalog
from kpi_pipeline.demo import generate_dataset
from kpi_pipeline.extraction.offline import OfflineBackend
from kpi_pipeline.extraction.schema import ExtractionRequest, ExtractionResult
from kpi_pipeline.orchestration.evaluate import evaluate_dataset

DAYS = ["2026-07-29", "2026-07-30", "2026-07-31"]
BAD_DAY = date(2026, 7, 31)  # the month end: most metrics are read that day


class DoubtfulOnOneDay(OfflineBackend):
    """The offline answers, but on BAD_DAY every value is read a thousand times too large (no quote states it)."""

    def extract(self, requests: Sequence[ExtractionRequest], catalog: Catalog) -> list[ExtractionResult]:
        results = super().extract(requests, catalog)
        for request, result in zip(requests, results, strict=True):
            if request.day == BAD_DAY:
                result.answers = [
                    a.model_copy(update={"value": a.value * 1000}) if a.value is not None else a for a in result.answers
                ]
        return results


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo company, scored on three days only."""
    out = generate_dataset(tmp_path_factory.mktemp("demo"), seed=7).out_dir
    truth = pd.read_csv(out / "truth.csv")
    truth[truth["date"].isin(DAYS)].to_csv(out / "truth.csv", index=False)
    return out


def test_eval_reports_a_held_day_with_its_reason_and_scores_the_others(dataset: Path) -> None:
    report = evaluate_dataset(dataset, DoubtfulOnOneDay())
    assert report["days"] == 3 and report["held_days"] == 1
    (held,) = report["held"]
    assert held["day"] == BAD_DAY.isoformat()
    assert "quarantine rate of 2026-07-31 is" in held["reason"] and "(KPI_MAX_QUARANTINE_RATE)" in held["reason"]
    baseline = evaluate_dataset(dataset, OfflineBackend())
    assert baseline["held_days"] == 0 and baseline["held"] == []
    # the held day's values are not published, so it scores lower than the same run without the doubt
    assert report["accuracy"] < baseline["accuracy"]
    assert report["quarantined"] > baseline["quarantined"]
