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

import contextlib
import dataclasses
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
# Scoring actors per unit of the resource, so scorings at once: each is short, and each actor
# is a worker process of its node with its own copy of the task.
PER_UNIT = 4
LOST_CHECK_S = 5.0  # how often a scoring that has not finished checks a trusted node is left
# How long after the run's start its scorings wait for a first actor to start (another run's
# may hold every unit) before they are scored here.
START_S = 60.0

Scorer = Callable[[Task, Path, Path], Evaluation]


def trusted_nodes(ray: Any) -> int:
    """How many alive nodes of the cluster carry the TRUSTED resource."""
    return sum(1 for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get(TRUSTED))


class TrustedScorer:
    """`scorer(task, work, scratch)`: `evaluate` run on a trusted node. `wait(ref, lost)` is
    the executor's wait for a Ray result (it notices a lost head); `lost()` here says no
    trusted node is left.

    The scorings run in Ray actors, PER_UNIT per unit of the resource, each holding its copy
    of the task: a call to an actor costs the driver less than a task, which asks a node for
    a worker each time (docs/SCALING.md). An actor whose node (or process) is lost is dropped
    and its scorings go to the others; with none left, the candidates are scored here. A
    trusted node that joins mid-run scores from the next run on."""

    def __init__(self, ray: Any, task: Task, wait: Callable[..., Any]) -> None:
        self._ray, self._wait = ray, wait
        self._lock = threading.Lock()
        self._checked, self._none_left = time.monotonic(), False
        # The plan is fixed here: a node never re-derives it from its copy of the answers.
        self._task = task.with_plan(task.plan)
        units = sum(n["Resources"].get(TRUSTED, 0) for n in ray.nodes() if n.get("Alive"))
        # No CPU asked: a scoring is short, and must not queue behind the agents it scores.
        # Never restarted: a lost node's actors could only wait for a unit no other frees.
        actor = ray.remote(num_cpus=0, resources={TRUSTED: 1 / PER_UNIT}, max_restarts=0)(
            ScoringActor
        )
        blob = ray.put(pack(task.root, ["."]))
        self._actors = Actors(
            ray, [actor.remote(blob, self._task) for _ in range(round(units * PER_UNIT))]
        )

    def __call__(self, task: Task, work: Path, scratch: Path) -> Evaluation:
        if task.root != self._task.root or task.plan != self._task.plan:
            return evaluate(task, work, scratch)  # another task's (or plan's) scoring
        outputs, got = pack(work, ["."]), _DROPPED
        while got is _DROPPED and not self._none_left:
            if (actor := self._actors.take()) is None:
                break
            got = None  # an exception (the head lost) leaves the actor in the pool
            try:
                got = self._score_on(actor, outputs)
            finally:
                self._actors.give(actor, lost=got is _DROPPED)
        if isinstance(got, Evaluation):
            return got
        if isinstance(got, str):
            raise EvaluatorFailed(got)
        ev = evaluate(task, work, scratch)  # no trusted node could score it: here, as before
        ev.where = (
            "here (no trusted Ray node free)"
            if self._actors.starting
            else "here (no trusted Ray node left)"
        )
        return ev

    def _score_on(self, actor: Any, outputs: bytes) -> object:
        """The actor's result; _DROPPED when the actor is gone, None when no trusted node
        could give one."""
        ref = actor.score.remote(outputs)
        try:
            return self._wait(ref, self._lost)
        except _NoTrustedNode:
            with contextlib.suppress(Exception):  # its actor may be gone already
                self._ray.cancel(ref)
        except self._ray.exceptions.RayActorError:
            return _DROPPED  # its node or process died: another actor scores it
        except self._ray.exceptions.RayError:
            pass  # a failure of Ray's own (an evaluator's comes back as its message)
        return None

    def _lost(self) -> None:
        """Raise _NoTrustedNode when none is alive (asked of Ray at most every LOST_CHECK_S)."""
        with self._lock:
            if time.monotonic() - self._checked >= LOST_CHECK_S:
                self._checked = time.monotonic()
                self._none_left = trusted_nodes(self._ray) == 0
            if self._none_left:
                raise _NoTrustedNode


class Actors:
    """A run's scoring actors: those started, each with its scorings in flight, and those
    still starting (waiting for a unit of the resource another run may hold)."""

    def __init__(self, ray: Any, actors: list[Any]) -> None:
        self._ray, self.made = ray, actors
        self._lock = threading.Lock()
        self._starting = {a.ready.remote(): a for a in actors}
        self._busy: dict[Any, int] = {}
        self._until = time.monotonic() + START_S

    @property
    def starting(self) -> bool:
        """Whether some actors never started and none did (all units taken)."""
        return bool(self._starting) and not self._busy

    def take(self) -> Any:
        """The started actor with the fewest scorings in flight, waiting for a first one to
        start until START_S after the run's; None when none is left or none started."""
        while True:
            with self._lock:
                self._admit()
                if self._busy:
                    actor = min(self._busy, key=self._busy.__getitem__)
                    self._busy[actor] += 1
                    return actor
                left = self._until - time.monotonic()
                if not self._starting or left <= 0:
                    return None
                starting = list(self._starting)
            self._ray.wait(starting, timeout=min(left, 1.0))

    def give(self, actor: Any, *, lost: bool) -> None:
        with self._lock:
            if lost:
                self._busy.pop(actor, None)
            elif actor in self._busy:
                self._busy[actor] -= 1

    def _admit(self) -> None:
        """Move the actors that started into the pool (one that died starting is dropped)."""
        if not self._starting:
            return
        refs = list(self._starting)
        ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0)
        for ref in ready:
            actor = self._starting.pop(ref)
            with contextlib.suppress(self._ray.exceptions.RayError):
                self._ray.get(ref)
                self._busy[actor] = 0


class _NoTrustedNode(Exception):
    pass


_DROPPED = object()  # a scoring's actor is gone


class ScoringActor:
    """A Ray actor on a trusted node: the task (answer key included) unpacked once, into
    sia-git's own temporary folder of its worker process, then each agent's outputs scored
    with it. An evaluator's failure comes back as its message (a Ray error would wrap it in a
    remote traceback)."""

    def __init__(self, task_blob: bytes, task: Task) -> None:
        self._root = tmpfiles.own() / "task"
        unpack(task_blob, self._root)
        self._task = task
        self._local = dataclasses.replace(task, root=self._root)

    def ready(self) -> bool:
        return True

    def score(self, outputs: bytes) -> Evaluation | str:
        import ray

        with tempfile.TemporaryDirectory(prefix=tmpfiles.prefix("score")) as tmp:
            unpack(outputs, Path(tmp) / "work")
            try:
                ev = evaluate(self._local, Path(tmp) / "work", Path(tmp) / "eval")
            except EvaluatorFailed as exc:  # named as the user knows it, not by this copy
                return str(exc).replace(str(self._root), str(self._task.root))
        node = ray.get_runtime_context().get_node_id()[:12]
        ev.where = f"ray node {node} pid {os.getpid()}"
        return ev
