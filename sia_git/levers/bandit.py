"""The offline lever choice: a UCB1 bandit over the levers' measured gains picks one lever per
generation (a lever not tried yet first, then the one whose mean gain plus an exploration
bonus, scaled to the gains seen, is highest)."""

from __future__ import annotations

import math

from sia_git.store import history as H


def choose(hist: H.RunHistory, levers: list[str], direction: str) -> str | None:
    """UCB1 over measured gains among `levers` (in their order); None when there are none."""
    if not levers:
        return None
    gains = hist.lever_gains()
    sign = 1.0 if direction == "maximize" else -1.0
    for lever in levers:
        if not gains.get(lever):
            return lever
    total = sum(len(gains[lever]) for lever in levers)
    # Gains are fractions of a point, not rewards in [0, 1]: scale the exploration bonus to the
    # largest gain seen, or it would drown the evidence and the bandit would only alternate.
    scale = max((abs(x) for lever in levers for x in gains[lever]), default=0.0) or 1e-3

    def ucb(lever: str) -> float:
        g = [sign * x for x in gains[lever]]
        return sum(g) / len(g) + scale * math.sqrt(math.log(total) / len(g))

    return max(levers, key=ucb)
