"""Quality of offline extraction on an evaluation dataset, without Dagster.

    .venv/bin/python bench/offline_quality.py DATASET [--json]

Reads the dataset's raw sources day by day with the project's source readers, runs the pure pipeline
(selection, offline extraction, grounding, synthesis) for every day of truth.csv in one backend call, applies
the quality gate (`publishable`) and prints the scores of `kpi_pipeline.evaluation.score`.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd

from kpi_pipeline.catalog import load_catalog
from kpi_pipeline.evaluation import as_json, score
from kpi_pipeline.extraction.offline import OfflineBackend
from kpi_pipeline.extraction.pipeline import RawDay, extract_days, publishable
from kpi_pipeline.resources.docs import DocsSource
from kpi_pipeline.resources.jira import JiraSource
from kpi_pipeline.resources.slack import SlackSource


def raw_days(dataset: Path, days: list[date]) -> dict[date, RawDay]:
    """Each day's raw rows, read by the same resources the Dagster ingest assets use."""
    slack = SlackSource(source=str(dataset / "slack"))
    jira = JiraSource(source=str(dataset / "jira"))
    docs = DocsSource(source=str(dataset / "docs"))
    result = {}
    for day in days:
        issues, events = jira.issues_and_events_for_day(day)
        result[day] = RawDay(slack.messages_for_day(day), issues, events, docs.docs_for_day(day))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--json", action="store_true", help="print the whole report, per metric too")
    parser.add_argument("--misses", action="store_true", help="list the metric-days scored wrong")
    args = parser.parse_args(argv)
    catalog = load_catalog(args.dataset / "metrics.yaml")
    truth = pd.read_csv(args.dataset / "truth.csv", dtype={"value": "float64"})
    days = sorted(pd.to_datetime(truth["date"]).dt.date.unique())

    started = time.perf_counter()
    raw = raw_days(args.dataset, days)
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    extracted = extract_days(raw, catalog, OfflineBackend())
    extract_s = time.perf_counter() - started

    values = pd.concat([e.values for e in extracted.values()], ignore_index=True)
    candidates = pd.concat([e.candidates for e in extracted.values()], ignore_index=True)
    calls = pd.concat([e.calls for e in extracted.values()], ignore_index=True)
    published = publishable(values, catalog)
    report = score(truth, published, candidates, calls)
    if args.json:
        print(as_json(report))
    else:
        keys = ("accuracy", "abstention_precision", "abstention_recall", "grounded_rate", "ece", "conflicts", "calls")
        print(" ".join(f"{k}={report[k]}" for k in keys))
        for metric, row in report["per_metric"].items():
            print(
                f"  {metric:32s} accuracy={row['accuracy']} abst_p={row['abstention_precision']} "
                f"abst_r={row['abstention_recall']} ece={row['ece']}"
            )
    if args.misses:
        print_misses(truth, values, published)
    print(f"read {read_s:.1f}s, extract+ground+synthesise {extract_s:.1f}s for {len(days)} days", file=sys.stderr)
    return 0


def print_misses(truth: pd.DataFrame, values: pd.DataFrame, published: pd.DataFrame) -> None:
    shown = published.assign(published=True)[["metric_id", "day", "published"]]
    merged = values.merge(shown, on=["metric_id", "day"], how="left")
    merged["day"] = pd.to_datetime(merged["day"]).dt.date
    frame = truth.assign(day=pd.to_datetime(truth["date"]).dt.date, metric_id=truth["metric"])
    frame = frame.merge(merged, on=["metric_id", "day"], how="left", suffixes=("_truth", ""))
    for row in frame.to_dict("records"):
        truth_value, value, out = row["value_truth"], row["value"], row["published"] is True
        right = (pd.isna(truth_value) and not out) or (
            out and not pd.isna(truth_value) and abs(value - truth_value) <= 0.01 * abs(truth_value)
        )
        if not right:
            print(
                f"MISS {row['day']} {row['metric_id']}: truth={truth_value} value={value} published={out} "
                f"status={row['status']} conf={row['confidence']} | {str(row['reasoning'])[:200]}"
            )


if __name__ == "__main__":
    sys.exit(main())
