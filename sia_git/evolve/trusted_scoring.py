"""Score candidates on the Ray nodes a user marks as trusted, off the driver.

Scoring was the largest part of the driver's work per candidate (docs/SCALING.md): two
evaluator runs each. A node started with `ray start --resources '{"sia_trusted": 1}'` may hold
the task's answer key; where the cluster has one, each candidate's outputs are scored there,
by the same `evaluate` the driver would run, and only its result (sealed splits: their
aggregate score alone) comes back. The answer key travels through Ray's object store to the
trusted nodes only, never to a node that runs agents without the mark; nothing in it is
written to a node's disk outside sia-git's own temporary folder of the worker process.

Where no trusted node is left (all lost mid-run), a candidate is scored here instead, so a run
never waits on a node that will not come back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sia_git.core import tmpfiles
from sia_git.evolve.archives import pack, unpack
from sia_git.tasks.evaluation import Evaluation, EvaluatorFailed, evaluate
from sia_git.tasks.task import Task

TRUSTED = "sia_trusted"  # the Ray resource that marks a node allowed to hold the answer key
# Scorings at once per unit of the resource: each is short, and a node's Ray starts a worker
# process (and unpacks the task) for each one running at once.
PER_UNIT = 4
LOST_CHECK_S = 5.0  # how often a scoring that has not finished checks a trusted node is left

Scorer = Callable[[Task, Path, Path], Evaluation]


def trusted_nodes(ray: Any) -> int:
    """How many alive nodes of the cluster carry the TRUSTED resource."""
    return sum(1 for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get(TRUSTED))


class TrustedScorer:
    """`scorer(task, work, scratch)`: `evaluate` run on a trusted node. `wait(ref, lost)` is
    the executor's wait for a Ray result (it notices a lost head); `lost()` here says no
    trusted node is left."""

    def __init__(self, ray: Any, task: Task, wait: Callable[..., Any]) -> None:
        self._ray, self._wait = ray, wait
        self._lock = threading.Lock()
        self._checked, self._none_left = time.monotonic(), False
        blob = pack(task.root, ["."])
        self._digest = hashlib.sha256(blob).hexdigest()[:16]
        self._task_ref = ray.put(blob)
        # The plan is fixed here: a node never re-derives it from its copy of the answers.
        self._task = task.with_plan(task.plan)
        # No CPU asked: a scoring is short, and must not queue behind the agents it scores.
        self._remote = ray.remote(num_cpus=0, resources={TRUSTED: 1 / PER_UNIT}, max_retries=3)(
            score_on_node
        )

    def __call__(self, task: Task, work: Path, scratch: Path) -> Evaluation:
        if task.root != self._task.root or task.plan != self._task.plan:
            return evaluate(task, work, scratch)  # another task's (or plan's) scoring
        ref = self._remote.remote(
            self._task_ref, self._digest, self._task, outputs=pack(work, ["."])
        )
        try:
            got = self._wait(ref, self._lost)
        except _NoTrustedNode:
            self._ray.cancel(ref, force=True)
        except self._ray.exceptions.RayError:
            pass  # its node died more often than Ray retries: scored here below
        else:
            if isinstance(got, str):
                raise EvaluatorFailed(got)
            return got
        ev = evaluate(task, work, scratch)  # no trusted node could score it: here, as before
        ev.where = "here (no trusted Ray node left)"
        return ev

    def _lost(self) -> None:
        """Raise _NoTrustedNode when none is alive (asked of Ray at most every LOST_CHECK_S)."""
        with self._lock:
            if time.monotonic() - self._checked >= LOST_CHECK_S:
                self._checked = time.monotonic()
                self._none_left = trusted_nodes(self._ray) == 0
            if self._none_left:
                raise _NoTrustedNode


class _NoTrustedNode(Exception):
    pass


_COPIES: dict[str, Path] = {}  # task digest -> this worker process's copy of the task


def score_on_node(task_blob: bytes, digest: str, task: Task, *, outputs: bytes) -> Evaluation | str:
    """The Ray task on a trusted node: the task (answer key included) unpacked once per worker
    process, the agent's outputs scored with it. An evaluator's failure comes back as its
    message (a Ray error would wrap it in a remote traceback)."""
    import ray

    root = _COPIES.get(digest)
    if root is None:
        root = tmpfiles.own() / f"task-{digest}"
        unpack(task_blob, root)
        _COPIES[digest] = root
    local = dataclasses.replace(task, root=root)
    with tempfile.TemporaryDirectory(prefix=tmpfiles.prefix("score")) as tmp:
        unpack(outputs, Path(tmp) / "work")
        try:
            ev = evaluate(local, Path(tmp) / "work", Path(tmp) / "eval")
        except EvaluatorFailed as exc:  # named as the user knows it, not by this node's copy
            return str(exc).replace(str(root), str(task.root))
    node = ray.get_runtime_context().get_node_id()[:12]
    ev.where = f"ray node {node} pid {os.getpid()}"
    return ev
