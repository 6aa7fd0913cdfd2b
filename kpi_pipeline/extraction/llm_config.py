"""LLM settings and their errors, without importing the anthropic SDK (about 2 s): the offline path and
every process that only loads the definitions never pay for it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

DEFAULT_MODEL = "claude-sonnet-5-5"  # a current model from anthropic.types.ModelParam
DEFAULT_BATCH_MIN_DAYS = 14


class LlmConfigError(RuntimeError):
    """A fatal API error: retrying cannot help; the message says which setting to fix."""


def uses_batch(days: Iterable[date], batch_min_days: int | None) -> bool:
    """Whether requests over `days` go through the Batches API: when they span `batch_min_days` distinct days."""
    return bool(batch_min_days) and len(set(days)) >= (batch_min_days or 0)
