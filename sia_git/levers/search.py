"""The knob search: a real optimiser (optuna's TPE) over the knobs an agent declares.

Its trial history is rebuilt from the run's commits and rejected refs every generation, so a
resumed run continues the same search, and the same history with the same seed always proposes
the same candidates.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math

from sia_git.levers import knob_source as knobmod
from sia_git.levers import tpe_density
from sia_git.levers.knob_source import Range, Space, Value
from sia_git.store.trials import Trial


def _distributions(space: Space) -> dict:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out = {}
    for name, spec in space.items():
        if isinstance(spec, Range):
            if spec.integer:
                out[name] = IntDistribution(int(spec.low), int(spec.high), log=spec.log)
            else:
                out[name] = FloatDistribution(spec.low, spec.high, log=spec.log)
        else:
            out[name] = CategoricalDistribution(spec)
    return out


def _seed(key: str, generation: int, attempt: int) -> int:
    digest = hashlib.sha256(f"{key}/{generation}/{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _in_space(knobs: dict[str, Value], space: Space) -> bool:
    for name, spec in space.items():
        v = knobs.get(name)
        if isinstance(spec, Range):
            if not spec.contains(v):
                return False
        elif v not in spec:
            return False
    return True


def search(
    space: Space,
    current: dict[str, Value],
    history: list[Trial],
    *,
    seed_key: str,
    direction: str,
    generation: int,
    n: int,
    sampler: str = "tpe",
    avoid: list[dict[str, Value]] | None = None,
) -> list[dict[str, Value]]:
    """`n` settings of `space` (merged over `current`) not tried before: TPE first (or random
    samples, `sampler="random"`); if it keeps proposing settings already tried (TPE favours the
    region of the best ones), plain random sampling, and in a small finite space the settings
    not tried yet, so the search only stops when the space is exhausted. Nor any of `avoid`
    (settings already proposed in this generation). The same history and seed key always give
    the same settings."""
    tried = {setting_key(t.knobs, space) for t in history} | {setting_key(current, space)}
    tried |= {setting_key(a, space) for a in avoid or []}  # a generation's other proposals
    found: list[dict[str, Value]] = []
    study = _Study(space, history, direction)
    for attempt in range(n * 40):
        if len(found) == n:
            break
        seed = _seed(seed_key, generation, attempt)
        if attempt < n * 10:
            params = study.ask(seed, tpe=sampler == "tpe")
        elif (grid := _untried(space, tried)) is not None:
            if not grid:
                break
            params = dict(grid[seed % len(grid)])
        else:
            params = study.ask(seed, tpe=False)
        knobs = {**current, **{k: knobmod.tidy(v) for k, v in params.items()}}
        key = setting_key(knobs, space)
        if key in tried:
            continue
        tried.add(key)
        found.append(knobs)
    return found


MODELED = 64  # trials TPE models at most: the best of all, then the most recent others


def modeled(history: list[Trial], direction: str) -> list[Trial]:
    """The scored trials TPE models, oldest first. TPE's cost per ask grows with the trials it
    models (a Gaussian mass per candidate and trial, in Python: 10 ms an ask at 128 trials,
    26 at 384), so past MODELED it keeps the best of the whole history, as many as its good
    group holds among MODELED trials (optuna's default gamma: a tenth), and of the rest only
    the most recent, the ones optuna weighs most anyway. Its good group is then exactly the
    history's best."""
    scored = [t for t in history if t.score is not None]
    if len(scored) <= MODELED:
        return scored
    sign = -1 if direction == "maximize" else 1
    order = sorted(range(len(scored)), key=lambda i: sign * scored[i].score)  # type: ignore[operator]
    best = set(order[: math.ceil(0.1 * MODELED)])
    rest = [i for i in range(len(scored)) if i not in best][-(MODELED - len(best)) :]
    return [scored[i] for i in sorted(best | set(rest))]


class _Study:
    """The history as one optuna study, built once per search (rebuilding it for each ask made
    a generation's proposing grow with its size times the history). Each ask gets its own
    seeded sampler, so a setting depends only on the history and its seed, as before: the
    samplers read the history's scored trials only (`modeled`): each ask is told at once as
    failed."""

    def __init__(self, space: Space, history: list[Trial], direction: str) -> None:
        import optuna
        from optuna.trial import create_trial

        tpe_density.install()
        optuna.logging.set_verbosity(logging.WARNING)
        self._dists = _distributions(space)
        self._study = optuna.create_study(direction=direction)
        # Trials under another space (the harness changed since) are not this search's.
        for t in modeled([t for t in history if _in_space(t.knobs, space)], direction):
            params = {k: t.knobs[k] for k in space}
            self._study.add_trial(
                create_trial(params=params, distributions=self._dists, value=t.score)
            )

    def ask(self, seed: int, *, tpe: bool) -> dict[str, Value]:
        import optuna
        from optuna.trial import TrialState

        self._study.sampler = (
            optuna.samplers.TPESampler(seed=seed, n_startup_trials=4, multivariate=True)
            if tpe
            else optuna.samplers.RandomSampler(seed=seed)
        )
        trial = self._study.ask(self._dists)
        # Told at once: a running trial would weigh on the next ask (TPE's constant liar).
        self._study.tell(trial, state=TrialState.FAIL)
        return trial.params


def _untried(space: Space, tried: set[tuple]) -> list[tuple] | None:
    """Untried settings of an all-choice space small enough to list; None for other spaces."""
    if any(isinstance(spec, Range) for spec in space.values()):
        return None
    names = sorted(space)
    size = 1
    for name in names:
        size *= len(space[name])  # type: ignore[arg-type]
    if size > 4096:
        return None
    combos = itertools.product(*(space[name] for name in names))  # type: ignore[misc]
    keys = (tuple(zip(names, combo, strict=True)) for combo in combos)
    return [key for key in keys if key not in tried]


def setting_key(knobs: dict[str, Value], space: Space) -> tuple:
    return tuple((k, knobmod.tidy(knobs.get(k))) for k in sorted(space))
