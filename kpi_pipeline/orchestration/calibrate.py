"""`kpi-pipeline calibrate DATASET ...`: labelled datasets -> (raw confidence, right?) pairs -> a map file.

Each dataset's days go through the same extraction as `kpi-pipeline eval` (without a map, so the confidence
is the raw one), and each synthesized value is labelled against truth.csv (kpi_pipeline.calibration.labels).
The fit (kpi_pipeline.calibration.fit) takes any iterable of labelled readings, so review decisions can be
added as another source of labels next to the datasets.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from kpi_pipeline.calibration.apply import map_key
from kpi_pipeline.calibration.fit import fit_map
from kpi_pipeline.calibration.labels import Labelled, LabelledReading, label_values, truth_by_pair
from kpi_pipeline.calibration.mapfile import CalibrationMap, write_map
from kpi_pipeline.catalog import load_catalog
from kpi_pipeline.extraction.pipeline import extract_days
from kpi_pipeline.extraction.schema import ExtractionBackend
from kpi_pipeline.orchestration.evaluate import dataset_name, read_dataset_days, truth_of


def dataset_labels(dataset: Path, backend: ExtractionBackend) -> Labelled:
    """The dataset's synthesized values, extracted without calibration, labelled against its truth."""
    truth = truth_of(dataset)
    catalog = load_catalog(dataset / "metrics.yaml")
    days = sorted(pd.to_datetime(truth["date"]).dt.date.unique())
    extracted = extract_days(read_dataset_days(dataset, days), catalog, backend)
    values = pd.concat([extracted[day].values for day in days], ignore_index=True)
    return label_values(dataset_name(dataset), values, truth_by_pair(truth))


def calibrate(
    datasets: Sequence[Path],
    backend: ExtractionBackend,
    directory: Path,
    command: str = "",
    reviewed: Sequence[LabelledReading] = (),
) -> tuple[CalibrationMap, Path]:
    """Fit the map for the backend's (backend, model, version) on the datasets, and on `reviewed` readings
    (review decisions, kpi_pipeline.review.labels), and write it to `directory`."""
    labelled = [dataset_labels(d, backend) for d in datasets]
    readings = [*(r for part in labelled for r in part.readings), *reviewed]
    abstentions = sum(part.abstentions for part in labelled)
    cmap = fit_map(map_key(backend.name, backend.model), readings, abstentions, command)
    return cmap, write_map(cmap, directory)
