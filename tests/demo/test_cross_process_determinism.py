"""The same seed gives the same bytes in every process, whatever Python's hash randomization does."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path


def generate(out: Path, hash_seed: str) -> None:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    subprocess.run([sys.executable, "-m", "kpi_pipeline.demo", str(out)], env=env, check=True, capture_output=True)


def different_files(a: Path, b: Path) -> list[str]:
    diff = []
    for path in sorted(a.rglob("*")):
        twin = b / path.relative_to(a)
        if path.is_file() and (not twin.is_file() or not filecmp.cmp(path, twin, shallow=False)):
            diff.append(str(path.relative_to(a)))
    return diff


def test_two_processes_with_different_hash_seeds_write_identical_datasets(tmp_path: Path) -> None:
    generate(tmp_path / "a", "1")
    generate(tmp_path / "b", "2")
    assert different_files(tmp_path / "a", tmp_path / "b") == []
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(p.name for p in (tmp_path / "b").iterdir())
