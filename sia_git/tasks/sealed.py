"""How a sealed split's score is released: the Ladder (Blum & Hardt, "The Ladder: A Reliable
Leaderboard for Machine Learning Competitions", 2015), on a grid as coarse as the split's noise.

A run may publish a sealed (test) score only for generations it commits, never for rejected
candidates, and never to a proposer. Each new score is compared with the last one released on
the run branch: it is released (rounded down to the grid) only when it beats that one by at
least one step; otherwise the last released value is repeated. So the released sequence of a
run is monotone, on a grid of step `eta`, and moves only by whole steps.

Why this bounds what a clone learns: two agents that differ in one sealed item's answer differ
by 1/n in score, less than one step (eta >= 1/sqrt(n) / 2 >= 1/n for n >= 4), so neither a
rejected candidate (no sealed score at all) nor a committed one (the same released value,
unless it also crossed a whole step) tells that item's label. A run of G committed generations
releases at most min(G, range/eta) distinct values: at most log2 of that many bits about the
sealed labels in all, however the candidates were built (the Ladder's bound).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

MIN_STEP = 1e-9


def step(n_items: int | None, score: float | None = None) -> float:
    """The grid's step for a sealed split of `n_items` items: the largest standard error a
    share of n items can have, 0.5/sqrt(n) (0.024 for 440 items, 0.041 for 150). A split of
    unknown size (an evaluator that reports no items, a metric that is not a share): 2% of the
    first score's magnitude, at least 0.01."""
    if n_items and n_items > 0:
        return max(0.5 / math.sqrt(n_items), 1.0 / n_items)
    return max(0.02 * abs(score or 0.0), 0.01)


def on_grid(score: float, eta: float, direction: str = "maximize") -> float:
    """`score` rounded towards worse onto the grid (to 6 decimals: a released value is read
    back from a trailer)."""
    k = score / eta
    k = math.floor(k + 1e-4) if direction == "maximize" else math.ceil(k - 1e-4)
    return round(k * eta, 6)


def release(score: float, last: float | None, eta: float, *, direction: str = "maximize") -> float:
    """The value to publish for a committed generation whose sealed score is `score`, when the
    run last released `last` (None: nothing yet)."""
    snapped = on_grid(score, eta, direction)
    if last is None:
        return snapped
    sign = 1 if direction == "maximize" else -1
    if sign * (snapped - last) >= eta - MIN_STEP:
        return snapped
    return last


def violations(released: Iterable[float], eta: float, direction: str = "maximize") -> list[str]:
    """What in a run's published sealed scores (in generation order) the release rule could
    not have produced: an oracle. Empty when the sequence is a Ladder's."""
    out: list[str] = []
    sign = 1 if direction == "maximize" else -1
    last: float | None = None
    for i, value in enumerate(released, 1):
        if abs(on_grid(value, eta, direction) - value) > 2e-6:
            out.append(f"score #{i} ({value:.6g}) is off the release grid (step {eta:.4g})")
        if last is not None and value != last and sign * (value - last) < eta - 2e-6:
            out.append(
                f"score #{i} ({value:.6g}) moved from {last:.6g} by less than a step "
                f"({eta:.4g}) or the wrong way"
            )
        last = value
    return out
