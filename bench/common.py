"""What the benchmarks share: a result row, interleaved timing, and a description of the machine."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
}


@dataclass
class Row:
    """One comparison measured side by side: A against B, as medians, and their ratio A/B."""

    name: str
    a_label: str
    a: float
    b_label: str
    b: float
    unit: str  # "s", "candidates/s", "score"
    aim: str
    rounds: int
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.a / self.b if self.b else float("nan")


def interleaved(rounds: int, sides: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Each round measures every side once, in alternating order, so load on the shared machine
    hits all sides alike. A side returns its own measurement (seconds, or a rate)."""
    got: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for r in range(rounds):
        for name in names if r % 2 == 0 else list(reversed(names)):
            got[name].append(sides[name]())
    return got


def timed(fn: Callable[[], object]) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    return run


def median(values: list[float]) -> float:
    return statistics.median(values)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    ).stdout


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "--initial-branch=main")
    (path / "README.md").write_text("bench\n")
    git(path, "add", "README.md")
    git(path, "commit", "-qm", "init")
    return path


def sia(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "sia_git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    )
    if done.returncode != 0:
        raise SystemExit(f"sia-git {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch

        extra = f", torch {torch.__version__}" + (
            f" on {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no GPU"
        )
    except ImportError:
        extra = ", no torch"
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
        f"CPython {platform.python_version()}{extra}"
    )
