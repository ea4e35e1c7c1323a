"""`sia-git check` on a 200-line clean agent file: cold (empty cache) and warm (cached).

Usage: python bench/check_speed.py [--rounds 7]

Each round times one cold check (a fresh, empty gate cache) and one warm check (the same file
again, every gate answered from the cache), interleaved so that load on the shared machine hits
both alike. Each check is the real command line in a new process, as pre-commit runs it.
Printed: the median of each. Aims (issue 4): under 3 s cold, under 0.2 s warm.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def agent_of_200_lines() -> str:
    """The penguins reference agent, padded with ordinary helper functions to 200 lines."""
    text = (ROOT / "tasks" / "penguins" / "reference" / "target_agent.py").read_text()
    lines = text.splitlines()
    n = 0
    while len(lines) + 5 <= 200:  # whole helpers only: a cut one would not parse
        lines += [
            "",
            "",
            f"def helper_{n}(values: list[float]) -> float:",
            f'    """Mean of the values, or {n} for none."""',
            f"    return sum(values) / len(values) if values else {n}.0",
        ]
        n += 1
    lines += [f"# line {len(lines) + 1 + i}" for i in range(200 - len(lines))]
    return "\n".join(lines) + "\n"


def timed_check(path: Path, cache: Path) -> float:
    env = {**os.environ, "SIA_GATE_CACHE": str(cache)}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sia_git", "check", str(path)],
        capture_output=True,
        text=True,
        env=env,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"the clean file did not pass:\n{done.stdout}{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    cold, warm = [], []
    with tempfile.TemporaryDirectory() as tmp:
        agent = Path(tmp) / "target_agent.py"
        agent.write_text(agent_of_200_lines())
        assert len(agent.read_text().splitlines()) == 200
        timed_check(agent, Path(tmp) / "warmup")  # load the tools from disk once
        for r in range(args.rounds):
            cache = Path(tmp) / f"cache-{r}"
            cold.append(timed_check(agent, cache))
            warm.append(timed_check(agent, cache))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    print(f"sia-git check, 200-line clean file, {args.rounds} interleaved rounds:")
    print(
        f"  cold (empty cache): median {statistics.median(cold):.3f} s "
        f"(min {min(cold):.3f}, max {max(cold):.3f}); aim < 3 s"
    )
    print(
        f"  warm (cached):      median {statistics.median(warm):.3f} s "
        f"(min {min(warm):.3f}, max {max(warm):.3f}); aim < 0.2 s"
    )


if __name__ == "__main__":
    main()
