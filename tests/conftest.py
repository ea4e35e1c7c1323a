"""Shared fixtures: real git repositories in temporary folders, and the real CLI as a process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(repo: Path, *args: str, env_extra: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV, **(env_extra or {})},
    ).stdout


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "--initial-branch=main")
    (path / "README.md").write_text("a user's project\n")
    (path / "notes.txt").write_text("work in progress\n")
    git(path, "add", "README.md")
    git(path, "commit", "-qm", "first commit")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A user's repository: one commit on main, a staged change, an untracked file."""
    path = make_repo(tmp_path / "project")
    (path / "README.md").write_text("a user's project, edited\n")
    git(path, "add", "README.md")
    return path


def snapshot(repo: Path) -> dict[str, str]:
    """What the user sees of their checkout: branch, tip, index, working tree, file contents."""
    return {
        "head": git(repo, "symbolic-ref", "HEAD"),
        "tip": git(repo, "rev-parse", "main"),
        "status": git(repo, "status", "--porcelain", "--untracked-files=all"),
        "index": git(repo, "diff", "--cached"),
        "files": "".join(
            f"{p.name}:{p.read_text()}" for p in sorted(repo.iterdir()) if p.is_file()
        ),
    }


Runner = Callable[..., subprocess.CompletedProcess[str]]


def run_sia(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the real `sia-git` command line in a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "sia_git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **GIT_ENV, **(env or {})},
    )


@pytest.fixture
def sia() -> Runner:
    """Run the real `sia-git` command line in a separate process."""
    return run_sia


def run_ids(repo: Path) -> list[str]:
    """Runs: branches sia/R with a refs/sia/R/base (review branches sia/R-gN are not runs)."""
    out = git(repo, "for-each-ref", "--format=%(refname:strip=3)", "refs/heads/sia/")
    bases = git(repo, "for-each-ref", "--format=%(refname)", "refs/sia/").split()
    return [r for r in out.split() if f"refs/sia/{r}/base" in bases]


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bytes]]]:
    """A loopback TCP listener (the only kind of server agents are ever pointed at): its port,
    and what each connection that reached it sent."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.3)
    got: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            got.append(conn.recv(100) or b"(connected)")
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], got
    stop.set()
    thread.join()
    server.close()


@pytest.fixture(scope="session")
def tiny_task(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A task that runs a tiny random BERT (tests/tinymodel.py): the weights lever in seconds.
    Needs the weights extra; without it the test fails and says how to install it."""
    import importlib.util

    missing = [m for m in ("torch", "transformers", "peft") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: pip install torch==2.13.0 && "
            "pip install '.[test,weights]'"
        )
    from tests.tinymodel import build_model, build_task

    root = tmp_path_factory.mktemp("tiny")
    return build_task(root / "task", build_model(root / "model"))


@pytest.fixture(scope="session")
def tiny_gen_task(tiny_task: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generation task on a tiny random Llama (tests/tinymodel.py): the generation objective,
    rewarded by the task's evaluator."""
    from tests.tinymodel import build_gen_model, build_gen_task

    root = tmp_path_factory.mktemp("tinygen")
    return build_gen_task(root / "task", build_gen_model(root / "model"))


@pytest.fixture(scope="session")
def tiny_served_task(tiny_gen_task: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny generation task with an agent that asks the model through the endpoint sia-git
    serves (the task names the tiny Llama as its target model)."""
    from tests.tinymodel import build_served_task

    root = tmp_path_factory.mktemp("tinyserved")
    model = tiny_gen_task.parent / "model"
    return build_served_task(root / "task", model)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """podman's Docker-compatible service on a Unix socket in a temporary folder (runc runtime),
    for the module's tests, as DOCKER_HOST; skips, saying why, where podman or runc is missing."""
    missing = [tool for tool in ("podman", "runc") if shutil.which(tool) is None]
    if missing:
        pytest.skip(
            f"no Docker-compatible engine here: {' and '.join(missing)} not installed "
            "(apt install podman runc)"
        )
    folder = tmp_path_factory.mktemp("podman")
    conf = folder / "containers.conf"
    conf.write_text('[engine]\nruntime = "runc"\n')
    sock = folder / "podman.sock"
    env = {**os.environ, "CONTAINERS_CONF": str(conf)}
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{sock}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for _ in range(100):
        if sock.exists() or service.poll() is not None:
            break
        time.sleep(0.1)
    if not sock.exists():
        service.kill()
        pytest.skip(f"podman's service did not start: {service.stderr.read().decode()[-200:]}")
    saved = {k: os.environ.get(k) for k in ("DOCKER_HOST", "CONTAINERS_CONF")}
    os.environ.update({"DOCKER_HOST": f"unix://{sock}", "CONTAINERS_CONF": str(conf)})
    yield f"unix://{sock}"
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    service.terminate()
    service.wait(timeout=30)
