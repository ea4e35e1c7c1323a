"""levers/tpe_density.py: optuna's TPE log-CDF over whole arrays gives optuna's own floats, so
the knob search proposes exactly what it did with optuna's per-element function."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
from optuna.samplers._tpe import _truncnorm

from sia_git.levers import tpe_density
from sia_git.levers.knob_source import Range
from sia_git.levers.search import search
from sia_git.store.trials import Trial


def optunas_own(a: np.ndarray) -> np.ndarray:
    """`_truncnorm._log_ndtr` as optuna defines it (the module's may be ours by now)."""
    return np.frompyfunc(_truncnorm._log_ndtr_single, 1, 1)(a).astype(float)


def test_the_array_form_gives_optunas_floats_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    edges = [-np.inf, np.inf, np.nan, -20, -20.000001, -19.999, 6, 6.000001, 0, -0.0, -40, 1e300]
    a = np.concatenate(
        [
            rng.normal(0, 10, 20_000),  # the three branches of the CDF and the tail
            -np.exp(rng.uniform(3, 300, 5_000)),  # the series, to where its terms underflow
            rng.uniform(-1e-150, 0, 500),
            edges,
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # optuna's own, on NaN
        expected = optunas_own(a)
    got = tpe_density.log_ndtr(a)
    assert np.array_equal(got, expected, equal_nan=True)
    grid = a[:600].reshape(20, 30)
    assert np.array_equal(tpe_density.log_ndtr(grid), optunas_own(grid))
    assert tpe_density.log_ndtr(np.array([])).shape == (0,)


def test_the_search_proposes_the_same_settings_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    space = {
        "guess": ["MALE", "FEMALE"],
        "pad": Range(0, 100_000, True, False),
        "lr": Range(1e-5, 0.1, False, True),
    }
    rng = random.Random(0)
    history = [
        Trial(
            {
                "guess": rng.choice(space["guess"]),
                "pad": rng.randint(0, 100_000),
                "lr": 10 ** rng.uniform(-5, -1),
            },
            rng.random(),
            2,
        )  # fmt: skip
        for _ in range(80)
    ]
    current = {"guess": "MALE", "pad": 0, "lr": 0.001}

    def propose() -> list[dict]:
        return search(space, current, history, seed_key="k", direction="maximize",
                      generation=3, n=12)  # fmt: skip

    assert tpe_density.install()  # this optuna has the function: a change there shows here
    assert _truncnorm._log_ndtr is tpe_density.log_ndtr
    ours = propose()
    monkeypatch.setattr(tpe_density, "install", lambda: False)
    monkeypatch.setattr(_truncnorm, "_log_ndtr", optunas_own)
    assert propose() == ours and len(ours) == 12
