"""The `docker` backend: the agent runs in a container through the `docker` Python package, for
users who have Docker (or podman's Docker-compatible service).

The image is empty (sia-git imports it from a tiny tarball, no registry needed); the host's
system libraries, interpreter and the allowed packages are bind-mounted read-only, like the
bubblewrap backend's binds. No network, a read-only root, no capabilities, memory, process and
rlimit caps, and the working dir as the one writable mount.
"""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
import time
from pathlib import Path
from typing import Any

from sia_git.core.errors import SiaError
from sia_git.sandbox import packages as pkgs
from sia_git.sandbox import view
from sia_git.sandbox.backends.base import Backend
from sia_git.sandbox.intercept import CA_IN_SANDBOX
from sia_git.sandbox.procs import QuotaWatch, pid_alive
from sia_git.sandbox.spec import (
    TLS_GATEWAY_IN_SANDBOX,
    RunResult,
    RunSpec,
    agent_command,
    inside_env,
    intercepting,
    interpreter,
)

IMAGE_REPO = "localhost/sia-git-base"
IMAGE = f"{IMAGE_REPO}:latest"
LABEL = "sia-git.owner-pid"


def client() -> Any:
    """A client for the engine DOCKER_HOST names (or the default socket), checked to answer."""
    try:
        import docker
    except ImportError:
        raise SiaError("--sandbox docker needs the `docker` package (pip install docker)") from None
    try:
        c = docker.from_env(timeout=60)
        c.ping()
    except Exception as exc:  # the SDK raises several types for an absent engine
        where = os.environ.get("DOCKER_HOST", "the default Docker socket")
        raise SiaError(
            f"--sandbox docker: no Docker engine answers at {where} "
            f"({str(exc).splitlines()[0][:120]}); start Docker, or set DOCKER_HOST"
        ) from None
    _ensure_image(c)
    _sweep(c)
    return c


def _ensure_image(c: Any) -> None:
    import docker

    try:
        c.images.get(IMAGE)
        return
    except docker.errors.ImageNotFound:
        pass
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("sia", "sia/site", "tmp", "proc", "dev", "etc"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
    c.api.import_image_from_data(buf.getvalue(), repository=IMAGE_REPO, tag="latest")


def _sweep(c: Any) -> None:
    """Remove containers a killed sia-git left running."""
    for ct in c.containers.list(all=True, filters={"label": LABEL}):
        owner = ct.labels.get(LABEL, "")
        if owner.isdigit() and not pid_alive(int(owner)):
            with contextlib.suppress(Exception):
                ct.remove(force=True)


def _binds(
    exe_prefix: Path,
    site: list[Path],
    agent: Path,
    *,
    dataset: Path,
    work: Path,
    gateway: Path | None,
) -> dict[str, dict[str, str]]:
    binds = {p: {"bind": p, "mode": "ro"} for p in ("/usr", "/lib", "/lib64") if Path(p).exists()}
    binds[str(exe_prefix)] = {"bind": str(exe_prefix), "mode": "ro"}
    for path in site:
        binds[str(path)] = {"bind": f"/sia/site/{path.name}", "mode": "ro"}
    binds[str(agent)] = {"bind": "/sia/agent", "mode": "ro"}
    binds[str(dataset)] = {"bind": "/sia/dataset", "mode": "ro"}
    binds[str(work)] = {"bind": "/sia/work", "mode": "rw"}
    if gateway is not None:
        binds[str(gateway)] = {"bind": "/sia/gateway.sock", "mode": "rw"}
    return binds


def _tls_binds(spec: RunSpec) -> dict[str, dict[str, str]]:
    if not intercepting(spec) or spec.intercept is None or spec.tls_gateway is None:
        return {}
    return {
        str(spec.tls_gateway): {"bind": TLS_GATEWAY_IN_SANDBOX, "mode": "rw"},
        str(spec.intercept.ca): {"bind": CA_IN_SANDBOX, "mode": "ro"},
    }


def _tls_options(spec: RunSpec) -> dict[str, Any]:
    """The engine writes the container's /etc/hosts: provider hosts go in as extra hosts; the
    relay (not root in the container) may bind port 443."""
    if not intercepting(spec) or spec.intercept is None:
        return {}
    return {
        "extra_hosts": dict.fromkeys(spec.intercept.names, "127.0.0.1"),
        "sysctls": {"net.ipv4.ip_unprivileged_port_start": "443"},
    }


class Docker(Backend):
    def __init__(self, site: list[Path]) -> None:
        super().__init__(site)
        self.client = client()

    @classmethod
    def probe(cls) -> str | None:
        try:
            client()
        except SiaError as exc:
            return str(exc)
        return None

    @classmethod
    def unavailable(cls, why: str) -> str:
        return why  # client() already says what to do

    def run(self, spec: RunSpec) -> RunResult:
        uid = view.agent_uid()
        spec = view.prepare_work(spec, uid)
        code, timed_out, seconds, why = _run(
            self.client, self.site, spec, env=inside_env(spec), uid=uid
        )
        return RunResult.read(
            self.name, spec, code, timed_out=timed_out, duration_s=seconds, killed_for=why
        )


def _run(
    c: Any, site: list[Path], spec: RunSpec, *, env: dict[str, str], uid: int | None
) -> tuple[int | None, bool, float, str]:
    """Run the agent; return (exit code or None on timeout, timed out, seconds, why it was
    killed when a quota did it)."""
    import docker

    exe, exe_prefix = interpreter()
    limits, stdout, stderr = spec.limits, spec.stdout, spec.stderr
    rl = limits.rlimits()
    ulimits = [
        docker.types.Ulimit(name=n, soft=v, hard=v)
        for n, v in (
            ("nofile", rl["RLIMIT_NOFILE"]),
            ("fsize", rl["RLIMIT_FSIZE"]),
            ("cpu", rl["RLIMIT_CPU"]),
            ("nproc", limits.max_procs * 8),
        )
    ]
    # Hide the interpreter's own site-packages (only the allowed ones are mounted) under an
    # empty read-only folder: a tmpfs there would be filled with a copy of it (podman's
    # tmpcopyup), hundreds of MB counted against the memory limit.
    hidden = sorted(
        {str(d.resolve()) for d in pkgs.site_dirs() if d.resolve().is_relative_to(exe_prefix)}
    )
    empties = {}
    for i, d in enumerate(hidden):
        empty = stdout.parent / f"empty-{i}"
        empty.mkdir(exist_ok=True)
        empties[str(empty)] = {"bind": d, "mode": "ro"}
    try:
        ct = c.containers.create(
            IMAGE,
            agent_command(spec),
            environment=env,
            working_dir="/sia/work",
            network_mode="none",
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            mem_limit=f"{limits.memory_mb}m",
            memswap_limit=f"{limits.memory_mb}m",
            pids_limit=limits.max_procs,
            ulimits=ulimits,
            tmpfs={"/tmp": f"rw,size={limits.tmp_mb}m,mode=1777"},
            shm_size=f"{limits.tmp_mb}m",
            user=f"{uid}:{uid}" if uid is not None else None,
            volumes={
                **_binds(
                    exe_prefix,
                    site,
                    spec.agent_dir,
                    dataset=spec.dataset_dir,
                    work=spec.work,
                    gateway=spec.gateway,
                ),
                **empties,
                **{str(p): {"bind": f"/sia/{n}", "mode": "ro"} for n, p in spec.mounts.items()},
                **_tls_binds(spec),
            },
            **_tls_options(spec),
            labels={LABEL: str(os.getpid())},
        )
    except docker.errors.APIError as exc:
        raise SiaError(
            f"--sandbox docker: the engine could not create the agent's container: "
            f"{str(exc.explanation or exc)[:200]}"
        ) from None
    start = time.monotonic()
    timed_out, code = False, None
    try:
        try:
            ct.start()
        except docker.errors.APIError as exc:
            raise SiaError(
                f"--sandbox docker: the engine could not start the agent's container: "
                f"{str(exc.explanation or exc)[:200]}"
            ) from None
        quota = QuotaWatch(spec.work, limits, lambda: _kill(ct))
        try:
            code = int(ct.wait(timeout=limits.timeout_s)["StatusCode"])
        except Exception:  # the SDK's timeout is a requests exception
            timed_out = True
            with contextlib.suppress(Exception):
                ct.kill()
        quota.stop()
        stdout.write_bytes(ct.logs(stdout=True, stderr=False))
        stderr.write_bytes(ct.logs(stdout=False, stderr=True))
    finally:
        with contextlib.suppress(Exception):
            ct.remove(force=True)
    if code is not None and code > 128:
        code = -(code - 128)  # killed by a signal, as subprocess reports it
    return code, timed_out, time.monotonic() - start, quota.reason


def _kill(ct: Any) -> None:
    with contextlib.suppress(Exception):  # the SDK raises several types for a gone container
        ct.kill()
