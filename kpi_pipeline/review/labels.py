"""Review decisions as labels for calibration: was the reading a person decided on correct?

`accept` says the reading was right, `reject` that it was wrong, `set` that it was right only when the
reviewer's value is the reading's (within 1%). Only decisions about the reading extract.metric_values holds
now count (a stale decision is about a reading that is gone), and only readings with a value: an abstention
has no value to be right about. The confidence is the raw one (`confidence_raw` when the table has it,
else `confidence`), the input a calibration map is fitted on.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from kpi_pipeline.calibration.labels import LabelledReading
from kpi_pipeline.review.listing import reading_rows
from kpi_pipeline.review.overrides import load_overrides, reading_fingerprint
from kpi_pipeline.warehouse import Warehouse

SAME_VALUE_REL = 0.01


def labelled_readings(
    folder: Path, wh: Warehouse, *, model: str | None = None, prompt_version: str | None = None
) -> list[LabelledReading]:
    """One label per current review decision in `folder` (overrides/*.yaml), in day, metric order; with `model`
    (and `prompt_version`), only decisions about readings that model (under that prompt) made, since a map is
    fitted for one of them."""
    overrides = load_overrides(folder)
    rows = reading_rows(wh, [o.key for o in overrides])
    labels = []
    for o in overrides:
        row = rows.get(o.key)
        if row is None or row.get("status") == "unread":
            continue
        if (model is not None and row.get("model") != model) or (
            prompt_version is not None and row.get("prompt_version") != prompt_version
        ):
            continue
        value = _number(row.get("value"))
        if value is None or reading_fingerprint(value, row.get("evidence")) != o.reading:
            continue
        confidence = _number(row.get("confidence_raw"))
        confidence = _number(row.get("confidence")) if confidence is None else confidence
        if confidence is None:
            continue
        if o.action == "set":
            assert o.value is not None
            correct = abs(value - o.value) <= SAME_VALUE_REL * max(abs(o.value), 1e-9)
        else:
            correct = o.action == "accept"
        source = str(o.file) if o.file is not None else "overrides"
        labels.append(LabelledReading(source, o.metric, o.day, confidence, correct, bool(row.get("grounded", True))))
    return sorted(labels, key=lambda r: (r.day, r.metric_id))


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number
