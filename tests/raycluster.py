"""A real multi-node Ray cluster on this one machine, for the tests and bench/scaling.py.

Each node is started with `ray start --block` as its own process tree, in its own PID and mount
namespaces, with its own CPUs, resources and temp folder, so that killing a node kills exactly
that node's processes, the way a machine is lost. Worker nodes mount an empty tmpfs over the
folders they must not see (the task's answer key, the repository, the driver's scratch), so they
share no filesystem with the driver where it matters: whatever they need has to come through
Ray. All nodes and the driver run in one network namespace of their own that has only a
loopback interface: Ray's cluster mode binds every interface and registers the machine's
address, and there the only interface is 127.0.0.1, so no traffic can leave the machine. A
token (Ray's token authentication) is made per cluster; nothing is read from or written to
~/.ray.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RAY = str(Path(sys.executable).with_name("ray"))
HEAD_PORT = 6399


def available() -> str | None:
    """Why a cluster cannot be made here, or None."""
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} (util-linux/iproute2) is not installed"
    if os.geteuid() != 0:
        return "namespaces with mounts need root here"
    if not Path(RAY).exists():
        return "the ray extra is not installed"
    return None


class Node:
    def __init__(self, name: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.name, self.proc, self.log = name, proc, log

    def running(self, needle: str) -> bool:
        """Whether a process of this node has `needle` in its command line (an agent)."""
        for entry in Path("/proc").iterdir():
            mine = entry.name.isdigit() and needle in _cmdline(entry)
            if mine and self.proc.pid in _ancestors(int(entry.name)):
                return True
        return False

    def kill(self) -> None:
        """SIGKILL the node's namespace: every process of this node ends at once."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


class RayCluster:
    """`with RayCluster(workers=2, hide=[...]) as c:`, then `c.sia(...)` runs sia-git in its
    network with its address and token. Its nodes' temp folders are in a short folder of the
    system's temp dir: Ray's Unix sockets live there, and their paths must stay under 108
    bytes (a pytest tmp_path is too deep)."""

    def __init__(
        self, *, workers: int = 2, cpus: int = 1, hide: list[Path], trusted: tuple[str, ...] = ()
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sia-rc-"))
        self.workers, self.cpus, self.hide = workers, cpus, [p.resolve() for p in hide]
        self.trusted = trusted  # nodes marked to score candidates (the answer key goes there)
        self.address = f"127.0.0.1:{HEAD_PORT}"
        self.env = {
            **os.environ,
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(16),
            "RAY_ADDRESS": "",
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1",  # cluster mode (worker nodes need it)
            # A lost node is noticed in seconds rather than Ray's default half a minute.
            "RAY_health_check_period_ms": "1000",
            "RAY_health_check_timeout_ms": "1000",
            "RAY_health_check_failure_threshold": "3",
        }
        self.nodes: dict[str, Node] = {}
        self._netns: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RayCluster:
        self._netns = subprocess.Popen(
            ["unshare", "--net", "--fork", "--kill-child", "sleep", "infinity"],
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while not self._ns_ready():
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster's network namespace did not come up")
            time.sleep(0.05)
        try:
            subprocess.run([*self.enter(), "ip", "link", "set", "lo", "up"], check=True)
            self.start("head")
            for i in range(1, self.workers + 1):
                self.start(f"worker{i}")
        except BaseException:
            self.__exit__()  # a node that did start is not left behind
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for node in self.nodes.values():
            node.kill()
        if self._netns is not None and self._netns.poll() is None:
            os.killpg(self._netns.pid, signal.SIGKILL)
            self._netns.wait(timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)

    def _ns_ready(self) -> bool:
        assert self._netns is not None
        child = _child_of(self._netns.pid)
        if child is None:
            return False
        own = os.readlink("/proc/self/ns/net")
        try:
            return os.readlink(f"/proc/{child}/ns/net") != own
        except OSError:
            return False

    def enter(self) -> list[str]:
        """The argv prefix that runs a command in the cluster's network."""
        assert self._netns is not None
        return ["nsenter", f"--net=/proc/{_child_of(self._netns.pid)}/ns/net", "--"]

    def start(self, name: str) -> Node:
        """Start (or restart, after a kill) the head or a worker node, and wait for it."""
        temp = self.root / name
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir(parents=True)
        log = self.root / f"{name}.log"
        head = name == "head"
        ray = [RAY, "start", "--block", "--node-ip-address=127.0.0.1", f"--num-cpus={self.cpus}",
               f"--temp-dir={temp}", "--disable-usage-stats",
               f"--resources={json.dumps(self._resources(name))}"]  # fmt: skip
        ray += (["--head", f"--port={HEAD_PORT}", "--include-dashboard=false"] if head
                else [f"--address={self.address}"])  # fmt: skip
        masks = "" if head else "".join(f"mount -t tmpfs sia-hidden {p} && " for p in self.hide)
        script = f'{masks}exec "$@"'
        argv = [*self.enter(), "unshare", "--mount", "--pid", "--fork", "--kill-child",
                "--mount-proc", "sh", "-c", script, "node", *ray]  # fmt: skip
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        node = Node(name, proc, log)
        self.nodes[name] = node
        self._wait_for(name, node)
        return node

    def _resources(self, name: str) -> dict[str, int]:
        """A node's own name as a resource (tasks can be pinned to it), and the trusted mark."""
        from sia_git.evolve.trusted_scoring import TRUSTED

        return {name: 1, **({TRUSTED: 1} if name in self.trusted else {})}

    def _wait_for(self, name: str, node: Node) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if node.proc.poll() is not None:
                raise RuntimeError(f"ray node {name} exited: {node.log.read_text()[-2000:]}")
            if name in self.alive_resources():
                return
            time.sleep(0.5)
        raise RuntimeError(f"ray node {name} did not join: {node.log.read_text()[-2000:]}")

    def alive_resources(self) -> set[str]:
        """The node names (custom resources) the head lists as alive."""
        try:
            return set(self.node_ids())
        except RuntimeError:
            return set()

    def node_ids(self) -> dict[str, str]:
        """Node name (head, worker1...) -> Ray node id, for the nodes alive now."""
        probe = (
            "import ray, json, logging\n"
            "ray.init(address='" + self.address + "', include_dashboard=False,"
            " log_to_driver=False, logging_level=logging.ERROR)\n"
            "print(json.dumps({k: n['NodeID'] for n in ray.nodes() if n['Alive']"
            " for k in n['Resources'] if k == 'head' or k.startswith('worker')}))\n"
        )
        return self._json(probe)

    def sees(self, node: str, paths: list[Path]) -> dict[str, bool]:
        """Whether each path exists in that node's view of the filesystem (a Ray task there)."""
        probe = (
            "import ray, json, logging, os\n"
            "ray.init(address='" + self.address + "', include_dashboard=False,"
            " log_to_driver=False, logging_level=logging.ERROR)\n"
            "f = ray.remote(num_cpus=0, resources={'" + node + "': 0.01})("
            "lambda ps: {p: os.path.exists(p) for p in ps})\n"
            f"print(json.dumps(ray.get(f.remote({[str(p) for p in paths]!r}))))\n"
        )
        return self._json(probe)

    def _json(self, probe: str) -> dict[str, Any]:
        done = subprocess.run(
            [*self.enter(), sys.executable, "-c", probe],
            env=self.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            raise RuntimeError(f"cluster probe failed: {done.stderr[-2000:]}")
        return dict(json.loads(lines[-1]))

    def run(self, argv: list[str], timeout: float = 3600) -> subprocess.CompletedProcess[str]:
        """Any command, in the cluster's network with its address and token; output captured."""
        return subprocess.run(
            [*self.enter(), *argv], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def sia(self, *args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """The real `sia-git` command line, run inside the cluster's network."""
        return subprocess.run(
            [*self.enter(), sys.executable, "-m", "sia_git", *args], cwd=cwd, env=self._sia_env(),
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def sia_popen(self, *args: str, cwd: Path, out: Path) -> subprocess.Popen[bytes]:
        """`sia-git` in the background; its stdout and stderr go to `out`."""
        with open(out, "wb") as sink:
            return subprocess.Popen(
                [*self.enter(), sys.executable, "-m", "sia_git", *args], cwd=cwd,
                env=self._sia_env(), stdout=sink, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def _sia_env(self) -> dict[str, str]:
        from tests.conftest import GIT_ENV

        return {**self.env, **GIT_ENV}


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _ancestors(pid: int) -> set[int]:
    seen: set[int] = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return seen


def _child_of(pid: int) -> int | None:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return int(kids[0]) if kids else None
