"""Fault points for crash tests. With SIA_GIT_FAULT=<phase>[:<n>] in the environment, the n-th
time (default: the first) the process reaches `point(<phase>)` it SIGKILLs its own process
group, as a power cut or the OOM killer would. Unset, as it always is outside the tests, a
point costs one environment lookup."""

from __future__ import annotations

import os
import signal
import threading

PHASES = (
    "proposing",
    "training",
    "gating",
    "running",
    "evaluating",
    "committing",
    "notes",
    "reverting",
)
_counts: dict[str, int] = {}
_lock = threading.Lock()


def point(phase: str) -> None:
    spec = os.environ.get("SIA_GIT_FAULT")
    if not spec:
        return
    name, _, nth = spec.partition(":")
    if name != phase:
        return
    with _lock:
        _counts[phase] = _counts.get(phase, 0) + 1
        if _counts[phase] == int(nth or 1):
            os.killpg(os.getpgrp(), signal.SIGKILL)
