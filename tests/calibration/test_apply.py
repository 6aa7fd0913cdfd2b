"""Applying a map to extraction rows: raw kept beside calibrated, the ungrounded cap holds, abstentions stay 0."""

from __future__ import annotations

import pandas as pd
import pytest

from kpi_pipeline.calibration.apply import NO_MAP, calibrate_frame, describe, map_key
from kpi_pipeline.calibration.isotonic import Knot
from kpi_pipeline.calibration.mapfile import CalibrationMap, MapKey
from kpi_pipeline.extraction.grounding import UNGROUNDED_CONFIDENCE_CAP
from kpi_pipeline.extraction.offline import MODEL, OFFLINE_VERSION
from kpi_pipeline.extraction.schema import PROMPT_VERSION

KEY = MapKey("offline", MODEL, OFFLINE_VERSION)
GENEROUS = CalibrationMap(KEY, (Knot(0.0, 0.2), Knot(0.3, 0.8), Knot(0.9, 0.7)), ("demo",), 9, 6, 3, 0, None, None)
ROWS = pd.DataFrame(
    {
        "metric_id": ["a", "b", "c"],
        "value": [1.0, 2.0, None],
        "confidence": [0.9, 0.3, 0.0],
        "grounded": [True, False, False],
    }
)


def test_confidence_is_calibrated_and_the_raw_one_kept() -> None:
    out = calibrate_frame(ROWS, GENEROUS)
    assert list(out["confidence_raw"]) == [0.9, 0.3, 0.0]
    assert out["confidence"][0] == pytest.approx(0.7)


def test_an_ungrounded_reading_stays_under_the_cap_even_where_the_map_is_generous() -> None:
    assert GENEROUS.apply([0.3])[0] > UNGROUNDED_CONFIDENCE_CAP
    assert calibrate_frame(ROWS, GENEROUS)["confidence"][1] == UNGROUNDED_CONFIDENCE_CAP


def test_an_abstention_keeps_its_zero() -> None:
    assert calibrate_frame(ROWS, GENEROUS)["confidence"][2] == 0.0


def test_without_a_map_the_raw_confidence_is_both() -> None:
    out = calibrate_frame(ROWS, None)
    assert list(out["confidence"]) == list(out["confidence_raw"]) == [0.9, 0.3, 0.0]
    assert describe(None) == NO_MAP == "none (raw confidence)"
    assert describe(GENEROUS) == f"calibration/{KEY.file_name}"


def test_offline_maps_follow_the_extractors_version_and_model_maps_the_prompts() -> None:
    assert map_key("offline", MODEL) == KEY
    assert map_key("anthropic", "claude-sonnet-4-5") == MapKey("anthropic", "claude-sonnet-4-5", PROMPT_VERSION)
