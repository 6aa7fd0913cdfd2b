"""Extraction judged on real text nobody on this project wrote: the labelled datasets under tests/datasets.

Each dataset is scored through `evaluate_dataset`, the code path of `kpi-pipeline eval` with the offline
backend. The bar is trust: of everything published, at most 2% may be wrong, where wrong means published on
a day whose truth is empty, or more than 1% off the truth. There is no accuracy floor here; abstaining is
allowed, publishing a wrong number is not. The figures are printed (`pytest -s`) for the record.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kpi_pipeline.catalog import load_catalog
from kpi_pipeline.evaluation import ACCURACY_TOLERANCE
from kpi_pipeline.orchestration.evaluate import evaluate_dataset, truth_of
from kpi_pipeline.resources.llm import LlmResource
from kpi_pipeline.warehouse import open_warehouse

DATASETS = Path(__file__).parent / "datasets"
NAMES = ["rustc_perf_triage", "pypi_blog", "houstondatavis_slack"]
MAX_WRONG_SHARE = 0.02


def with_every_source_folder(dataset: Path, scratch: Path) -> Path:
    """A copy of `dataset` with an empty slack/, jira/ or docs/ where it has none: until a missing source
    folder is a skipped source, eval reads all three (the shipped datasets hold only the sources they have)."""
    copy = scratch / dataset.name
    shutil.copytree(dataset, copy)
    if not (copy / "slack").exists():
        (copy / "slack").mkdir()
        (copy / "slack" / "channels.json").write_text("[]")
    if not (copy / "jira").exists():
        (copy / "jira").mkdir()
        (copy / "jira" / "empty.json").write_text('{"issues": []}')
    (copy / "docs").mkdir(exist_ok=True)
    return copy


def judged(truth: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Every published value of a labelled (metric, day), with its truth and whether it is wrong."""
    labels = pd.DataFrame(
        {"metric_id": truth["metric"], "day": pd.to_datetime(truth["date"]).dt.date, "truth": truth["value"]}
    )
    values = published.assign(day=pd.to_datetime(published["day"]).dt.date)[["metric_id", "day", "value"]]
    rows = values[values["value"].notna()].merge(labels, on=["metric_id", "day"], how="inner")
    off = (rows["value"] - rows["truth"]).abs() > ACCURACY_TOLERANCE * rows["truth"].abs().clip(lower=1e-9)
    return rows.assign(wrong=rows["truth"].isna() | off)


def figures(name: str, report: dict[str, Any], truth: pd.DataFrame, rows: pd.DataFrame) -> str:
    wrong = rows[rows["wrong"]]
    lines = [
        f"{name}: {report['days']} days, {int(truth['value'].notna().sum())} truth readings, "
        f"{len(rows)} published, accuracy {report['accuracy']}, {len(wrong)} wrong "
        f"({len(wrong) / len(rows) if len(rows) else 0:.1%} of published), {report['quarantined']} quarantined"
    ]
    lines += [f"  wrong: {r.day} {r.metric_id} published {r.value:g}, truth {r.truth:g}" for r in wrong.itertuples()]
    return "\n".join(lines)


def test_the_real_text_datasets_together_hold_40_days_and_100_readings_of_catalog_metrics() -> None:
    days, readings = 0, 0
    for name in NAMES:
        dataset = DATASETS / name
        truth = truth_of(dataset)
        metric_ids = {m.id for m in load_catalog(dataset / "metrics.yaml").metrics}
        assert set(truth["metric"]) <= metric_ids, name
        assert not truth.duplicated(["date", "metric"]).any(), name
        assert list(dataset.glob("LICENSE*")), f"{name} has no licence file beside its data"
        days += truth["date"].nunique()
        readings += int(truth["value"].notna().sum())
    assert days >= 40 and readings >= 100, (days, readings)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_at_most_2_percent_of_published_values_are_wrong(name: str, tmp_path: Path) -> None:
    dataset = with_every_source_folder(DATASETS / name, tmp_path)
    scratch = tmp_path / "warehouse"
    scratch.mkdir()
    report = evaluate_dataset(dataset, LlmResource(backend="offline").get_backend(), scratch)
    published = open_warehouse(f"duckdb:///{scratch / 'eval.duckdb'}").query_df(
        "SELECT metric_id, day, value FROM kpi.fct_metric_daily"
    )
    truth = truth_of(dataset)
    rows = judged(truth, published)
    print(figures(name, report, truth, rows))
    wrong = int(rows["wrong"].sum())
    assert wrong <= MAX_WRONG_SHARE * len(rows), figures(name, report, truth, rows)
