"""Where candidate agents run: on this machine (the default), or as Ray tasks.

Everything else about a candidate stays with the loop: proposing, the gates, training, and
scoring with the trusted evaluator, so the task's answer key never reaches a node that runs
agents; a cluster's nodes the user marks as trusted may score (trusted_scoring.py). An
executor only runs `target_agent.py` in its sandbox and hands back what the sandbox wrote
(work/ and the logs), exactly as `Sandbox.run` does here.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sia_git.core import tmpfiles
from sia_git.core.errors import SiaError
from sia_git.evolve.archives import pack, unpack
from sia_git.sandbox import Limits, RunResult, RunSpec, Sandbox

if TYPE_CHECKING:
    from sia_git.evolve.trusted_scoring import TrustedScorer
    from sia_git.tasks.task import Task

OUTPUTS = ("work", "stdout.txt", "stderr.txt")
# A lost worker node's agent runs are run again elsewhere (Ray retries a task whose worker or
# node died, never one whose agent failed): an agent run has no effect outside its sandbox.
NODE_LOSS_RETRIES = 3
HEAD_CHECKS = 3  # failed connects to the head, a second apart, before the cluster is lost
# Each thread waiting on a Ray result wakes once per timeout (to check the head), and Ray
# wakes it to look for signals: 128 threads waking each second cost the driver about 7 ms of
# CPU a second, 2.3 ms with both every 5 s (docs/SCALING.md). So the threads together wake
# about WAKES_PER_S times a second, however many wait, each at least every MAX_WAIT_S.
WAKES_PER_S = 16
MAX_WAIT_S = 5.0


class ClusterLost(SiaError):
    """The Ray cluster's head stopped answering mid-run: the run stops and resumes later."""


class AgentRunner(Protocol):
    """What the loop needs to run one agent: `Sandbox` itself, or an executor around it."""

    backend: str

    def run(self, spec: RunSpec) -> RunResult: ...

    def close(self) -> None: ...


class Executor(Protocol):
    """What the EXECUTORS registry holds (core/extensions.py): a callable that makes the
    runner of a run's agents from its sandbox, `--ray-address` and the run's `echo`."""

    def __call__(
        self, sandbox: Sandbox, address: str | None, echo: Callable[[str], None]
    ) -> AgentRunner: ...


def make(
    name: str, sandbox: Sandbox, address: str | None, *, echo: Callable[[str], None]
) -> AgentRunner:
    from sia_git.core.extensions import EXECUTORS

    executor: Executor = EXECUTORS.get(name)
    return executor(sandbox, address, echo)


def local(sandbox: Sandbox, address: str | None, echo: Callable[[str], None]) -> AgentRunner:
    """Here: the sandbox runs each agent in this machine's processes."""
    return sandbox


def close(runner: AgentRunner) -> None:
    runner.close()


class RayExecutor:
    """Each agent run is a Ray task (1 CPU) that rebuilds the sandbox on its worker. A run that
    needs something only this machine has (the model gateway's socket, a mounted base model or
    adapter) is pinned to this machine's node."""

    def __init__(self, sandbox: Sandbox, address: str | None, echo: Callable[[str], None]) -> None:
        if address is None:
            # A local instance in single-machine mode: every Ray server listens on 127.0.0.1
            # only (in cluster mode Ray binds all interfaces). Read when ray is imported.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        # Only the main thread takes signals, and it never waits on Ray for long: the
        # candidates' threads need not wake every second to look (read when Ray starts).
        signals = str(int(MAX_WAIT_S * 1000))
        os.environ.setdefault("RAY_get_check_signal_interval_milliseconds", signals)
        try:
            import ray
        except ImportError:
            raise SiaError("--executor ray needs Ray: pip install 'sia-git[ray]'") from None
        self._ray = ray
        self.sandbox = sandbox
        self.backend = f"{sandbox.backend}, on Ray"
        self._datasets: dict[Path, Any] = {}
        self._lock = threading.Lock()
        self._waiting = 0
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no phoning home
        if address:
            _reachable(address)
        quiet = logging.getLogger("ray")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # its start-up notices would bury the run's own lines
        try:
            info = ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.ERROR,
                ignore_reinit_error=True,
            )
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
            where = f"at {address}" if address else "locally"
            raise SiaError(f"could not start or reach Ray {where}: {exc}".splitlines()[0]) from None
        finally:
            quiet.setLevel(level)
        self._node = ray.get_runtime_context().get_node_id()
        cpus = int(ray.cluster_resources().get("CPU", 0))
        echo(
            f"executor: Ray {'cluster ' + address if address else 'local instance'} "
            f"({cpus} CPUs, dashboard {getattr(info, 'dashboard_url', None) or 'off'})"
        )
        self._task = ray.remote(num_cpus=1, max_retries=NODE_LOSS_RETRIES)(run_on_worker)
        # Ray's own reaction to a dead head is to end this process after a minute; the run
        # notices within seconds and stops with a line saying how to resume instead.
        gcs = ray.get_runtime_context().gcs_address if address else None
        self._head = HeadWatch(gcs) if gcs else None

    def run(self, spec: RunSpec) -> RunResult:
        options: dict[str, Any] = {}
        if spec.gateway is not None or spec.mounts:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(self._node, soft=False)
        ref = self._task.options(**options).remote(
            pack(spec.agent_dir, ["."]),
            self._dataset(spec.dataset_dir),
            self.sandbox.backend,
            packages=self.sandbox.packages,
            forbid=self.sandbox.forbid,
            limits=spec.limits,
            seed=spec.seed,
            gateway=str(spec.gateway) if spec.gateway else None,
            mounts={n: str(p.resolve()) for n, p in spec.mounts.items()},
            key_names=spec.key_names,
        )
        try:
            result, outputs = self.wait(ref)
        except self._ray.exceptions.RayError as exc:
            return RunResult(
                self.backend,
                None,
                False,
                0.0,
                "",
                f"the Ray task failed: {str(exc).strip().splitlines()[-1]}",
                where="ray",
            )
        spec.scratch.mkdir(parents=True, exist_ok=True)
        unpack(outputs, spec.scratch)
        return result

    def wait(self, ref: Any, check: Callable[[], None] | None = None) -> Any:
        """The task's result; `check` runs every second to MAX_WAIT_S while it is not ready."""
        with self._lock:
            self._waiting += 1
        try:
            while True:
                timeout = min(MAX_WAIT_S, max(1.0, self._waiting / WAKES_PER_S))
                try:
                    return self._ray.get(ref, timeout=timeout)
                except self._ray.exceptions.GetTimeoutError:
                    pass
                if check is not None:
                    check()
                if self._head is not None and self._head.lost():
                    raise ClusterLost(
                        f"lost the Ray cluster's head at {self._head.address} (nothing "
                        "answers there); the agents in flight are not recorded"
                    )
        finally:
            with self._lock:
                self._waiting -= 1

    def scorer(self, task: Task, echo: Callable[[str], None]) -> TrustedScorer | None:
        """Scoring on the cluster's trusted nodes (the resource `sia_trusted`), if it has any."""
        from sia_git.evolve import trusted_scoring

        nodes = trusted_scoring.trusted_nodes(self._ray)
        if not nodes:
            return None
        echo(
            f"scoring: on {nodes} trusted Ray node(s) (resource {trusted_scoring.TRUSTED}); the "
            "answer key goes to them only"
        )
        return trusted_scoring.TrustedScorer(self._ray, task, self.wait)

    def _dataset(self, path: Path) -> Any:
        """The staged public inputs, put into Ray's object store once per run."""
        if path not in self._datasets:
            self._datasets[path] = self._ray.put(pack(path, ["."]))
        return self._datasets[path]

    def close(self) -> None:
        if self._head is None or not self._head.is_lost:
            self._ray.shutdown()  # with the head gone this would wait on it for a minute
        self.sandbox.close()


class HeadWatch:
    """Whether the cluster's head (its GCS) still takes connections: checked at most once a
    second, however many candidates' threads ask, and lost after HEAD_CHECKS failures."""

    def __init__(self, address: str) -> None:
        self.address = address
        host, _, port = address.rpartition(":")
        self._where = (host.strip("[]"), int(port))
        self._lock = threading.Lock()
        self._checked = 0.0
        self._fails = 0

    @property
    def is_lost(self) -> bool:
        return self._fails >= HEAD_CHECKS

    def lost(self) -> bool:
        with self._lock:
            if self.is_lost or time.monotonic() - self._checked < 1.0:
                return self.is_lost
            self._checked = time.monotonic()
            try:
                socket.create_connection(self._where, timeout=1.0).close()
                self._fails = 0
            except OSError:
                self._fails += 1
            return self.is_lost


def _reachable(address: str) -> None:
    """Fail at once on an address where nothing listens (Ray itself retries for minutes)."""
    host_port = address.removeprefix("ray://")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", "local", or a form Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise SiaError(
            f"--ray-address {address}: nothing answers there ({exc.strerror or exc}); "
            "start the cluster with `ray start --head` or fix the address"
        ) from None


def run_on_worker(
    agent: bytes,
    dataset: bytes,
    backend: str,
    *,
    packages: list[str],
    forbid: list[str],
    limits: Limits,
    seed: int,
    gateway: str | None,
    mounts: dict[str, str],
    key_names: tuple[str, ...] = (),
) -> tuple[RunResult, bytes]:
    """The Ray task: unpack the agent and the inputs, run them in a sandbox built here, and
    return the result with the sandbox's outputs."""
    import ray

    with tempfile.TemporaryDirectory(prefix=tmpfiles.prefix("ray")) as tmp:
        root = Path(tmp)
        unpack(agent, root / "agent")
        unpack(dataset, root / "dataset")
        sandbox = Sandbox(backend, packages, forbid)
        result = sandbox.run(
            RunSpec(
                root / "agent",
                root / "dataset",
                root / "run",
                limits,
                seed,
                Path(gateway) if gateway else None,
                {n: Path(p) for n, p in mounts.items()},
                tuple(key_names),
            )
        )
        sandbox.close()
        result.where = f"ray node {ray.get_runtime_context().get_node_id()[:12]} pid {os.getpid()}"
        outputs = pack(root / "run", [n for n in OUTPUTS if (root / "run" / n).exists()])
    return result, outputs
