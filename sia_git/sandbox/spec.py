"""What one sandboxed run is given (RunSpec) and what it gives back (RunResult), and the agent's
environment, built the same way by every backend."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from sia_git.sandbox import relay
from sia_git.sandbox.intercept import CA_IN_SANDBOX, CA_VARIABLES, Interception
from sia_git.sandbox.procs import Finished, Limits

TAIL = 4000
MODEL_PORT = 4141  # the model endpoint inside the sandbox's own network namespace
DUMMY_KEY = "sia-gateway"  # what SDKs inside get as their key
_RELAY = Path(relay.__file__).read_text(encoding="utf-8")
GATEWAY_IN_SANDBOX = "/sia/gateway.sock"
TLS_GATEWAY_IN_SANDBOX = "/sia/gateway-tls.sock"
AGENT_ARGS = [
    "/sia/agent/target_agent.py",
    "--dataset_dir",
    "/sia/dataset",
    "--working_dir",
    "/sia/work",
]


@dataclass(frozen=True)
class RunSpec:
    """One run of `target_agent.py`: `scratch` receives work/ (its outputs) and the logs.
    `gateway` is the model gateway's socket, when the run has a target model; `mounts` are
    folders shown read-only at /sia/<name> (the base model, the adapter)."""

    agent_dir: Path
    dataset_dir: Path
    scratch: Path
    limits: Limits
    seed: int = 0
    gateway: Path | None = None
    mounts: Mapping[str, Path] = field(default_factory=dict)
    key_names: tuple[str, ...] = ()  # more variables set to the dummy key with a gateway
    # With a gateway: the gateway's TLS socket and the files that send provider hosts to it.
    tls_gateway: Path | None = None
    intercept: Interception | None = None

    @property
    def work(self) -> Path:
        return self.scratch / "work"

    @property
    def stdout(self) -> Path:
        return self.scratch / "stdout.txt"

    @property
    def stderr(self) -> Path:
        return self.scratch / "stderr.txt"

    def resolved(self) -> RunSpec:
        return replace(
            self,
            agent_dir=self.agent_dir.resolve(),
            dataset_dir=self.dataset_dir.resolve(),
            scratch=self.scratch.resolve(),
            mounts={n: p.resolve() for n, p in self.mounts.items()},
        )


@dataclass
class RunResult:
    backend: str
    exit_code: int | None
    timed_out: bool
    duration_s: float
    stdout_tail: str
    stderr_tail: str
    leftovers_killed: int = 0
    where: str = ""  # which machine ran it, when not this one (an executor's worker)
    killed_for: str = ""  # a quota or the memory cap, when that ended the run

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.exit_code == 0 and not self.killed_for

    def reason(self) -> str:
        if self.killed_for:
            return f"killed: {self.killed_for}"
        if self.timed_out:
            return "timed out"
        last = self.stderr_tail.strip().splitlines()[-1:] or [""]
        if self.exit_code is None:  # it never ran: the reason is all there is
            return last[0][:300]
        if self.exit_code < 0:
            return f"killed by signal {-self.exit_code}"
        return f"exit code {self.exit_code}: {last[0][:200]}"

    @classmethod
    def read(
        cls,
        backend: str,
        spec: RunSpec,
        exit_code: int | None,
        *,
        timed_out: bool,
        duration_s: float,
        leftovers_killed: int = 0,
        killed_for: str = "",
    ) -> RunResult:
        """The result of a finished run, with the tails of the logs it wrote."""
        return cls(backend, exit_code, timed_out, duration_s, tail(spec.stdout),
                   tail(spec.stderr), leftovers_killed, killed_for=killed_for)  # fmt: skip

    @classmethod
    def of(cls, backend: str, spec: RunSpec, done: Finished) -> RunResult:
        return cls.read(backend, spec, done.exit_code, timed_out=done.timed_out,
                        duration_s=done.duration_s, leftovers_killed=done.leftovers_killed,
                        killed_for=done.killed_for)  # fmt: skip


def tail(path: Path) -> str:
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - TAIL))
        return f.read().decode("utf-8", errors="replace")


def interpreter() -> tuple[str, Path]:
    """The real (base) interpreter and its prefix: a venv's python is only a link to it."""
    exe = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    return exe, Path(sys.base_prefix).resolve()


def agent_env(
    site: str,
    home: str,
    seed: int,
    *,
    gateway: str | None = None,
    mounts: Mapping[str, Path] | None = None,
) -> dict[str, str]:
    """The agent's whole environment: nothing is inherited, so no key or token gets in. The
    model gateway, when there is one, is a Unix socket: the network stays cut. Read-only
    mounts (the base model, the adapter) are named by SIA_<NAME>_DIR."""
    extra = {"SIA_GATEWAY": gateway} if gateway else {}
    extra |= {f"SIA_{n.upper()}_DIR": str(p) for n, p in (mounts or {}).items()}
    if mounts:
        # Model libraries: everything they need is mounted; never try the (absent) network.
        extra |= {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_HOME": "/tmp/hf",
            "TOKENIZERS_PARALLELISM": "false",
        }
    # USER/LOGNAME: there is no passwd entry for the agent's uid, and libraries ask who it is
    # (getpass.getuser, e.g. torch's cache folders).
    return {
        **extra,
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "USER": "sia",
        "LOGNAME": "sia",
        "PYTHONPATH": site,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "TMPDIR": "/tmp",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "SIA_SEED": str(seed),
    }


def inside_env(spec: RunSpec) -> dict[str, str]:
    """The environment of an agent that sees the sandbox's own layout (/sia/...). With a model
    gateway, the standard SDKs find it on their own: their base URLs point at the relay on
    127.0.0.1, their keys are a dummy (the real one never enters)."""
    env = agent_env(
        "/sia/site",
        "/sia/work",
        spec.seed,
        gateway=GATEWAY_IN_SANDBOX if spec.gateway else None,
        mounts={n: Path(f"/sia/{n}") for n in spec.mounts},
    )
    if spec.gateway is not None:
        base = f"http://127.0.0.1:{MODEL_PORT}"
        env |= {"OPENAI_BASE_URL": f"{base}/v1", "OPENAI_API_KEY": DUMMY_KEY,
                "ANTHROPIC_BASE_URL": base, "ANTHROPIC_API_KEY": DUMMY_KEY}  # fmt: skip
        env |= dict.fromkeys(spec.key_names, DUMMY_KEY)
        if spec.intercept is not None:
            env |= dict.fromkeys(CA_VARIABLES, CA_IN_SANDBOX)
    return env


def intercepting(spec: RunSpec) -> bool:
    return spec.gateway is not None and spec.tls_gateway is not None and spec.intercept is not None


def agent_command(spec: RunSpec, uid: int | None = None) -> list[str]:
    """The agent's command line inside the sandbox: with a model gateway, the relay starts
    first (it serves the gateway on 127.0.0.1 in the sandbox's network, port 443 too when
    provider hosts are intercepted) and becomes the agent; `uid`, when it must switch to one
    after binding."""
    exe, _ = interpreter()
    agent = [exe, "-S", *AGENT_ARGS]
    if spec.gateway is None:
        return agent
    pairs = f"{MODEL_PORT}={GATEWAY_IN_SANDBOX}"
    if intercepting(spec):
        pairs += f",443={TLS_GATEWAY_IN_SANDBOX}"
    return [exe, "-S", "-c", _RELAY, pairs, "-" if uid is None else str(uid), *agent]
