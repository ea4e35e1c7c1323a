"""How likely a guess is to agree with the gold values as often as a slot does."""

from __future__ import annotations

import math

ALPHA = 0.01  # a slot agreeing this unlikely by chance is not chance


def tail(hits: int, n: int, p: float) -> float:
    """P(X >= hits) for X ~ Binomial(n, p)."""
    if hits <= 0:
        return 1.0
    if p >= 1.0:
        return 1.0
    total = 0.0
    for k in range(hits, n + 1):
        log = (
            math.lgamma(n + 1)
            - math.lgamma(k + 1)
            - math.lgamma(n - k + 1)
            + k * math.log(p)
            + (n - k) * math.log1p(-p)
        )
        total += math.exp(log)
    return min(1.0, total)
