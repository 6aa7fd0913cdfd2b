"""Isotonic regression by pool-adjacent-violators: the monotone step fit of P(correct) against raw confidence.

A higher raw confidence must never calibrate lower, so the fit is the closest non-decreasing function to the
labels. Each block's rate is smoothed with one pseudo right and one pseudo wrong reading (a uniform prior),
so a block of five right answers says 6/7, not a certainty the data cannot back; blocks are pooled on the
smoothed rates, so those rise strictly from block to block.
The map is piecewise linear through each block's lowest and highest raw confidence at the block's rate, and
flat beyond the fitted range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CALIBRATED_MAX = 0.99  # as synthesis: no confidence claims certainty


@dataclass(frozen=True)
class Knot:
    raw: float
    calibrated: float


def fit_isotonic(raw: Sequence[float], correct: Sequence[bool]) -> tuple[Knot, ...]:
    """The knots of the monotone map fitted on (raw confidence, correct?) pairs; () for no pairs."""
    if len(raw) != len(correct):
        raise ValueError(f"{len(raw)} confidences but {len(correct)} labels")
    pooled: dict[float, list[float]] = {}  # equal raw confidences form one block from the start
    for x, label in zip(raw, correct, strict=True):
        block = pooled.setdefault(float(x), [0.0, 0.0])
        block[0] += float(label)
        block[1] += 1.0
    blocks: list[list[float]] = []  # [right answers, readings, lowest raw, highest raw]
    for x in sorted(pooled):
        blocks.append([*pooled[x], x, x])
        while len(blocks) > 1 and _rate(blocks[-2]) >= _rate(blocks[-1]):
            right, count, _, high = blocks.pop()
            blocks[-1][0] += right
            blocks[-1][1] += count
            blocks[-1][3] = high
    knots: list[Knot] = []
    for right, count, low, high in blocks:
        rate = round(min(CALIBRATED_MAX, _rate([right, count])), 4)
        knots.extend(Knot(x, rate) for x in dict.fromkeys((low, high)))
    return tuple(knots)


def _rate(block: list[float]) -> float:
    """A block's smoothed rate; pooling compares these, so the smoothed rates rise strictly block to block."""
    return (block[0] + 1) / (block[1] + 2)


def apply_knots(knots: Sequence[Knot], raw: Sequence[float] | np.ndarray) -> np.ndarray:
    """Calibrated confidence of each raw confidence: linear between knots, flat outside them."""
    xs = np.array([k.raw for k in knots], dtype=float)
    ys = np.array([k.calibrated for k in knots], dtype=float)
    return np.round(np.interp(np.asarray(raw, dtype=float), xs, ys), 4)
