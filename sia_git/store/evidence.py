"""Whether a candidate's gain over the incumbent is more than noise, from per-item results.

Both were scored on the same selection-split items, so they are compared item by item: of the
items where they differ, `wins` are right for the candidate only and `losses` for the incumbent
only. Under "no real difference" each differing item is a fair coin, so the exact one-sided
McNemar p-value is P(X >= wins) for X ~ Binomial(wins + losses, 1/2). The interval is the
normal interval of the paired difference in the share correct.

The level a candidate must reach falls with each paired test the run makes: the k-th test
gets alpha / (k (k + 1)), shared by the generation's scored candidates (Bonferroni: the best of
them is the one tested), and these sum to alpha over any number of tests. A generation whose
best candidate does not even score higher than the incumbent makes no test and spends nothing.
So a run on a task where nothing can improve accepts anything at all with probability at most
alpha (`--accept`, 0.05 by default), however long it runs. docs/DESIGN.md ("Accepting a
gain") says why.

Everything here is recomputable from stored results: the tests recompute
a commit's `Sia-Evidence` from the attempt records' per-item statuses.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CORRECT = "correct"
RIGHT = frozenset({CORRECT, "pass", "passed", "ok", "solved", "success", "true", "right"})
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Evidence:
    n: int  # items both were scored on
    wins: int  # right for the candidate only
    losses: int  # right for the incumbent only
    level: float | None = None  # what p had to reach (None: no test was asked for)

    @property
    def gain(self) -> float:
        return (self.wins - self.losses) / self.n if self.n else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """95% interval of the gain in the share of correct items."""
        if not self.n:
            return (0.0, 0.0)
        d = self.gain
        var = ((self.wins + self.losses) / self.n - d * d) / self.n
        half = Z95 * math.sqrt(max(var, 0.0))
        return (d - half, d + half)

    @property
    def p(self) -> float:
        return mcnemar_p(self.wins, self.losses)

    @property
    def significant(self) -> bool:
        return self.level is None or self.p <= self.level

    def trailer(self) -> str:
        """`Sia-Evidence`'s value: every number it is recomputed from, and the verdict's inputs."""
        low, high = self.interval
        level = "" if self.level is None else f" level={self.level:.3g}"
        return (
            f"{self.gain:+.4f} [{low:+.4f}, {high:+.4f}] n={self.n} wins={self.wins} "
            f"losses={self.losses} p={self.p:.3g}{level} paired"
        )

    def says(self) -> str:
        """One line for a person: the gain, its interval and how sure."""
        low, high = self.interval
        return f"{self.gain:+.4f} [{low:+.4f}, {high:+.4f}] (p={self.p:.3g}, n={self.n})"


def mcnemar_p(wins: int, losses: int) -> float:
    """Exact one-sided p-value of `wins` or more of `wins + losses` fair coin flips."""
    m = wins + losses
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, k) for k in range(wins, m + 1))
    return min(1.0, tail / 2**m)


def level(alpha: float, comparison: int, candidates: int) -> float:
    """The level one of `candidates` must reach at the run's `comparison`-th (1, 2, ...)
    paired test; alpha >= 1 asks for no test."""
    if alpha >= 1:
        return 1.0
    k = max(comparison, 1)
    return alpha / (k * (k + 1)) / max(candidates, 1)


def statuses(items: Iterable[Mapping[str, str]]) -> dict[str, bool]:
    """Item id -> whether it was correct, from an evaluation's per-item statuses."""
    return {str(i["id"]): i.get("status") in RIGHT for i in items if "id" in i}


def paired(
    incumbent: Mapping[str, bool], candidates: Iterable[Mapping[str, bool]], *, lvl: float | None
) -> Evidence | None:
    """Evidence from the items the incumbent and each of `candidates` share (several: the
    re-runs of a stochastic agent, pooled). None when they share none."""
    n = wins = losses = 0
    for cand in candidates:
        for item, right in cand.items():
            if item not in incumbent:
                continue
            n += 1
            wins += right and not incumbent[item]
            losses += incumbent[item] and not right
    return Evidence(n, wins, losses, lvl) if n else None


_TRAILER = re.compile(r"n=(\d+) wins=(\d+) losses=(\d+)(?: p=\S+)?(?: level=(\S+))?")


def parse(value: str | None) -> Evidence | None:
    """An `Sia-Evidence` trailer back into its counts (None for an unpaired or absent one)."""
    m = _TRAILER.search(value or "")
    if not m:
        return None
    lvl = float(m.group(4)) if m.group(4) else None
    return Evidence(int(m.group(1)), int(m.group(2)), int(m.group(3)), lvl)
