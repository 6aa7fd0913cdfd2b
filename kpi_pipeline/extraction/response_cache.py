"""Answers already paid for, as files keyed by request hash (model, prompt version and input).

Re-running a day, or a backfill over days already extracted, must not call Claude again. Each entry is one
JSON file written to a temporary name and renamed into place, so concurrent runs never read half a file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from pathlib import Path

from pydantic import ValidationError

from kpi_pipeline.extraction.schema import ExtractionResponse

DEFAULT_CACHE_DIR = "data/llm_cache"
_KEY = re.compile(r"^[0-9a-f]{64}$")

log = logging.getLogger(__name__)


class ResponseCache:
    """`get`/`put` validated responses under `directory/<first two hex>/<hash>.json`."""

    def __init__(self, directory: Path | str = DEFAULT_CACHE_DIR) -> None:
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"response cache key must be a sha256 hex digest, got {key!r}")
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> ExtractionResponse | None:
        path = self._path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return ExtractionResponse.model_validate(json.loads(text)["response"])
        except (ValueError, KeyError, TypeError, ValidationError):
            log.warning("ignoring unreadable response cache entry %s; it will be rewritten", path)
            return None

    def put(self, key: str, response: ExtractionResponse, *, model: str, prompt_version: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {"model": model, "prompt_version": prompt_version, "response": response.model_dump(mode="json")}
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:8]}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as tmp:
                json.dump(entry, tmp, sort_keys=True)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
