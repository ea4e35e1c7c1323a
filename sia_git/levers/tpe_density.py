"""optuna's TPE, with the one function that dominates its cost computed over whole arrays.

TPE scores each sampled point under two Parzen mixtures; for a bounded knob that takes the log
of a Gaussian mass per point and mixture component, and optuna computes its log-CDF
(`_truncnorm._log_ndtr`) one element at a time in Python: more than half of an ask, and the
largest single cost of the driver per candidate at 128 candidates a generation
(docs/SCALING.md). `install` puts in its place a function that gives the same floats, bit for
bit (the same branches and series, with `math.erf`, `math.erfc`, `math.log` and Python's
square applied over the arrays), so a
search proposes exactly what it did; `tests/test_tpe_density.py` compares the two.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

_ERF = np.frompyfunc(math.erf, 1, 1)
_ERFC = np.frompyfunc(math.erfc, 1, 1)
_LOG = np.frompyfunc(math.log, 1, 1)
_POW = np.frompyfunc(lambda v: v**2, 1, 1)  # Python's square: `a * a` can round otherwise
_EDGE = 1 / 2**0.5  # optuna's branch points for x = a / sqrt(2)


def _floats(ufunc: Any, x: np.ndarray) -> np.ndarray:
    return ufunc(x).astype(float) if x.size else np.empty(0)


def ndtr(a: np.ndarray) -> np.ndarray:
    """The standard normal CDF, with optuna's `_ndtr_single`'s three branches."""
    x = a / 2**0.5
    y = np.empty_like(x)
    low = x < -_EDGE
    mid = ~low & (x < _EDGE)
    high = ~(low | mid)
    y[low] = 0.5 * _floats(_ERFC, -x[low])
    y[mid] = 0.5 + 0.5 * _floats(_ERF, x[mid])
    y[high] = 1.0 - 0.5 * _floats(_ERFC, x[high])
    return y


def log_tail(a: np.ndarray) -> np.ndarray:
    """optuna's asymptotic series for the log-CDF far in the left tail (a <= -20, or NaN),
    each element summed until its own terms stop changing it, as optuna's loop does."""
    square = _floats(_POW, a)
    log_lhs = -0.5 * square - _floats(_LOG, -a) - 0.5 * math.log(2 * math.pi)
    cons = 1 / square
    last, total, factor = np.zeros_like(a), np.ones_like(a), np.ones_like(a)
    active = np.ones(a.shape, dtype=bool)
    i, sign, numerator = 0, 1, 1.0
    while active.any():
        i += 1
        sign = -sign
        numerator *= 2 * i - 1
        last[active] = total[active]
        factor[active] *= cons[active]
        total[active] += sign * numerator * factor[active]
        active &= np.abs(last - total) > sys.float_info.epsilon
    return log_lhs + _floats(_LOG, total)


def log_ndtr(a: np.ndarray) -> np.ndarray:
    """optuna's `_log_ndtr`: log of the standard normal CDF, over an array."""
    arr = np.asarray(a, dtype=float)
    flat = arr.ravel()
    out = np.empty(flat.shape)
    high = flat > 6
    mid = ~high & (flat > -20)
    rest = ~(high | mid)
    out[high] = -ndtr(-flat[high])
    out[mid] = _floats(_LOG, ndtr(flat[mid]))
    out[rest] = log_tail(flat[rest])
    return out.reshape(arr.shape)


def install() -> bool:
    """Use the array form in this process's optuna; False (optuna's own stays) where this
    optuna has no such function to replace."""
    try:
        from optuna.samplers._tpe import _truncnorm
    except ImportError:
        return False
    if _truncnorm.__dict__.get("_log_ndtr") is log_ndtr:
        return True
    if not callable(_truncnorm.__dict__.get("_log_ndtr")):
        return False
    _truncnorm._log_ndtr = log_ndtr
    return True
