"""Answers already paid for, one file per metric answer, keyed by `prompts.answer_key`.

Re-running a day, or a backfill over days already extracted, must not call Claude again; neither must adding
a metric to the catalog re-ask the metrics that were there before. So each metric's answer is stored under a
key of model, prompt version, the request's sources that bear on the metric and its definition, and a request
asks the model only for the metrics the cache cannot answer. Each entry is one JSON file written to a temporary name
and renamed into place, so concurrent runs never read half a file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from kpi_pipeline.catalog import Metric
from kpi_pipeline.extraction.prompts import answer_key
from kpi_pipeline.extraction.schema import ExtractionRequest, MetricAnswer

DEFAULT_CACHE_DIR = "data/llm_cache"
_KEY = re.compile(r"^[0-9a-f]{64}$")

log = logging.getLogger(__name__)


class ResponseCache:
    """`get`/`put` metric answers under `directory/<first two hex>/<key>.json`."""

    def __init__(self, directory: Path | str = DEFAULT_CACHE_DIR) -> None:
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"response cache key must be a sha256 hex digest, got {key!r}")
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> MetricAnswer | None:
        path = self._path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return MetricAnswer.model_validate(json.loads(text)["answer"])
        except (ValueError, KeyError, TypeError, ValidationError):
            log.warning("ignoring unreadable response cache entry %s; it will be rewritten", path)
            return None

    def put(self, key: str, answer: MetricAnswer, *, model: str, prompt_version: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {"model": model, "prompt_version": prompt_version, "answer": answer.model_dump(mode="json")}
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:8]}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as tmp:
                json.dump(entry, tmp, sort_keys=True)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def answers(
        self, model: str, prompt_version: str, request: ExtractionRequest, metrics: Sequence[Metric]
    ) -> dict[str, MetricAnswer]:
        """The cached answers among `metrics` for `request`, by metric id (missing ids: ask the model)."""
        found = {m.id: self.get(answer_key(model, prompt_version, request, m)) for m in metrics}
        return {metric_id: answer for metric_id, answer in found.items() if answer is not None}

    def store(
        self,
        model: str,
        prompt_version: str,
        request: ExtractionRequest,
        metrics: Sequence[Metric],
        answers: Sequence[MetricAnswer],
    ) -> None:
        """Cache the model's first answer for each of `metrics` (answers for metrics not asked are ignored)."""
        by_id: dict[str, MetricAnswer] = {}
        for answer in answers:
            by_id.setdefault(answer.metric_id, answer)
        for metric in metrics:
            if metric.id in by_id:
                key = answer_key(model, prompt_version, request, metric)
                self.put(key, by_id[metric.id], model=model, prompt_version=prompt_version)
