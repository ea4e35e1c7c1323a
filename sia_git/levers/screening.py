"""One-knob-at-a-time screening: each knob of the incumbent varied alone, once, before the
optimiser models the space.

Why: TPE starts with random samples that change every knob at once. With a handful of trials
(an LLM agent on a CPU scores a few candidates per generation) those samples mostly land where
a small model answers at chance, and the one knob worth changing is buried among seven that
are not. Varying one knob at a time finds the knobs that matter in as many trials as there are
knobs (measured on word-sentiment-smollm2: `shots` 0→8 alone is +17 points on dev; see
docs/BENCHMARKS.md), and the crossover and TPE then combine what it found. A range knob goes to
the end of its range farthest from its value (a two-level screening design); a choice knob to
a seeded value it has not taken alone.
"""

from __future__ import annotations

import math
import random

from sia_git.levers import knob_source as knobmod
from sia_git.levers.knob_source import Range, Space, Value
from sia_git.levers.search import setting_key
from sia_git.store.trials import Trial


def screen(
    space: Space,
    current: dict[str, Value],
    history: list[Trial],
    *,
    seed_key: str,
    generation: int,
    n: int,
) -> list[dict[str, Value]]:
    """Up to `n` settings that each change one knob of `current` that no trial in `history`
    has changed alone from it, in the order the agent declares them; none tried before.
    Empty once every knob has been varied alone from this incumbent."""
    tried = {setting_key(t.knobs, space) for t in history} | {setting_key(current, space)}
    varied = {alone for t in history if (alone := _changed_alone(t.knobs, current, space))}
    out: list[dict[str, Value]] = []
    for name, spec in space.items():
        if len(out) == n:
            break
        if name in varied:
            continue
        rng = random.Random(f"{seed_key}/{generation}/screen/{name}")
        for value in _moves(spec, current.get(name), rng):
            knobs = {**current, name: knobmod.tidy(value)}
            if setting_key(knobs, space) not in tried:
                tried.add(setting_key(knobs, space))
                out.append(knobs)
                break
    return out


def _changed_alone(knobs: dict[str, Value], current: dict[str, Value], space: Space) -> str | None:
    diff = [k for k in space if knobmod.tidy(knobs.get(k)) != knobmod.tidy(current.get(k))]
    return diff[0] if len(diff) == 1 else None


def _moves(spec: list[Value] | Range, value: Value, rng: random.Random) -> list[Value]:
    """The values to try for one knob, best first: a range's far end, then its near end; a
    choice's other values in a seeded order."""
    if not isinstance(spec, Range):
        others = [v for v in spec if v != value]
        rng.shuffle(others)
        return others
    low, high = (int(spec.low), int(spec.high)) if spec.integer else (spec.low, spec.high)
    ends = [low, high]
    if isinstance(value, int | float) and not isinstance(value, bool):
        ends.sort(key=lambda end: -_distance(spec, float(value), float(end)))
    return [end for end in ends if end != value]


def _distance(spec: Range, a: float, b: float) -> float:
    if spec.log and a > 0 and b > 0:
        return abs(math.log(a) - math.log(b))
    return abs(a - b)
