"""Whether a source is configured at all: `none`, or a dataset folder without that source's subfolder.

A dataset may hold any subset of slack/, jira/ and docs/. A source that is absent is skipped (nothing read,
nothing written or deleted); a path someone set explicitly that does not exist is still an error, because
that is a typo, not a choice.
"""

from __future__ import annotations

from pathlib import Path

from kpi_pipeline.sources.errors import SourceError

NONE = "none"


def skip_reason(name: str, setting: str, value: str, from_dataset: bool) -> str | None:
    """The log line saying why source `name` is skipped, or None when it is configured.

    `value` is the setting's value (or the dataset default); `from_dataset` says it is the default
    `$KPI_DATASET/<name>` rather than an explicit `setting`.
    """
    stripped = value.strip()
    if stripped.lower() == NONE:
        return f"{name}: no source configured ({setting}=none); skipped"
    if not from_dataset or not stripped:
        return None
    path = Path(stripped).expanduser()
    if path.exists():
        return None
    dataset = path.parent
    if not dataset.is_dir():
        raise SourceError(
            f"KPI_DATASET={str(dataset)!r}: no such dataset folder; point KPI_DATASET at a folder holding slack/, "
            f"jira/ and/or docs/ (run `make demo` for the demo company), or set {setting}"
        )
    return f"{name}: no source configured ({dataset} has no {path.name}/ and {setting} is unset); skipped"


def describe(name: str, setting: str, value: str, from_dataset: bool) -> str:
    """How to name a source's location in a message: the setting, or the dataset folder it defaulted to."""
    if from_dataset:
        return f"{value} (the dataset's {name}/; {setting} overrides it)"
    return f"{setting}={value!r}"
