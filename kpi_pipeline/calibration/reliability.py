"""Expected calibration error and the reliability table behind it: does a 0.9 come true nine times in ten?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

BINS = 10


@dataclass(frozen=True)
class Reliability:
    ece: float | None  # None for no readings
    table: list[dict[str, Any]]  # per non-empty bin: bin, count, mean_confidence, accuracy

    def lines(self) -> list[str]:
        """The table as aligned text, for the command line."""
        rows = [f"{'bin':<9} {'count':>6} {'confidence':>11} {'accuracy':>9}"]
        rows += [
            f"{r['bin']:<9} {r['count']:>6} {r['mean_confidence']:>11.4f} {r['accuracy']:>9.4f}" for r in self.table
        ]
        return rows


def reliability(confidence: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray) -> Reliability:
    """ECE over `BINS` equal-width confidence bins (the last one closed), weighted by each bin's readings."""
    conf = np.asarray(confidence, dtype=float)
    right = np.asarray(correct, dtype=float)
    if len(conf) != len(right):
        raise ValueError(f"{len(conf)} confidences but {len(right)} labels")
    table: list[dict[str, Any]] = []
    ece = 0.0
    for b in range(BINS):
        low, high = b / BINS, (b + 1) / BINS
        in_bin = (conf >= low) & ((conf <= high) if b == BINS - 1 else (conf < high))
        if not in_bin.any():
            continue
        mean_confidence, accuracy = float(conf[in_bin].mean()), float(right[in_bin].mean())
        ece += in_bin.sum() / len(conf) * abs(mean_confidence - accuracy)
        table.append(
            {
                "bin": f"{low:.1f}-{high:.1f}",
                "count": int(in_bin.sum()),
                "mean_confidence": round(mean_confidence, 4),
                "accuracy": round(accuracy, 4),
            }
        )
    return Reliability(round(float(ece), 4) if len(conf) else None, table)
