"""Loop overhead per generation: everything `evolve` does except running the agent.

Usage: python bench/loop_overhead.py [--task penguins] [--gens 8] [--rounds 3]

Each round evolves a built-in task in a fresh temporary repository with 2 candidates and
`--workers 1`, so agent runs never overlap (proposing and gating still run concurrently, as in
any run), and times every generation. Overhead is a generation's wall time minus the time its
agents spent inside the sandbox; it covers proposing (optuna), the gates (ruff, bandit, semgrep
and the secret scan, through pre-commit), staging, the trusted evaluator, commits, the ref
transaction, notes, the worktree sync and confirmation bookkeeping. Printed: the median per
round and over all generations, and the time the task's evaluator takes per candidate. Aims
(issue 2): overhead under 2 s, evaluation under 60 s, on 2 cores.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from sia_git.evolve import candidates, loop
from sia_git.sandbox import Sandbox

EVAL_TIMES: list[float] = []


def one_round(task: str, gens: int) -> list[tuple[float, float]]:
    agent_time = 0.0
    real_evaluate = candidates.evaluate

    def timed_evaluate(*args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return real_evaluate(*args, **kwargs)
        finally:
            EVAL_TIMES.append(time.perf_counter() - start)

    real_run = Sandbox.run

    def timed_run(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal agent_time
        result = real_run(self, *args, **kwargs)
        agent_time += result.duration_s
        return result

    steps: list[tuple[str, float, float]] = []  # (kind, wall s, agent s)
    real_generation, real_confirm = loop._generation, loop.confirm_tip

    def timed(kind: str, fn):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal agent_time
            agent_time, start = 0.0, time.perf_counter()
            out = fn(*args, **kwargs)
            steps.append((kind, time.perf_counter() - start, agent_time))
            return out

        return wrapper

    Sandbox.run = timed_run  # type: ignore[method-assign]
    candidates.evaluate = timed_evaluate
    loop._generation = timed("gen", real_generation)
    loop.confirm_tip = timed("confirm", real_confirm)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            repo = Path(tmp)
            env = ["-c", "user.name=bench", "-c", "user.email=bench@localhost"]
            subprocess.run(["git", "init", "-q", str(repo)], check=True)
            (repo / "README.md").write_text("bench\n")
            subprocess.run(["git", *env, "-C", str(repo), "add", "."], check=True)
            subprocess.run(["git", *env, "-C", str(repo), "commit", "-qm", "init"], check=True)
            loop.start(
                repo,
                {"task": task, "max_gen": gens, "candidates": 2, "workers": 1},
                echo=lambda line: None,
            )
    finally:
        Sandbox.run = real_run  # type: ignore[method-assign]
        candidates.evaluate = real_evaluate
        loop._generation, loop.confirm_tip = real_generation, real_confirm
    # A generation's cost is its own step plus the confirmation step that follows it.
    per_gen: list[tuple[float, float]] = []
    for i, (kind, wall, agent) in enumerate(steps):
        if kind == "gen":
            after = steps[i + 1] if i + 1 < len(steps) else ("confirm", 0.0, 0.0)
            per_gen.append((wall + after[1], agent + after[2]))
    return per_gen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="penguins")
    parser.add_argument("--gens", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, task {args.task}, {args.gens} generations x "
        f"{args.rounds} rounds, 2 candidates, 1 worker"
    )
    print(f"{'round':>5}  {'median overhead s':>18}  {'median agent s':>15}  {'gens':>5}")
    overheads: list[float] = []
    for r in range(1, args.rounds + 1):
        gens = one_round(args.task, args.gens)
        over = [wall - agent for wall, agent in gens]
        overheads += over
        print(
            f"{r:>5}  {statistics.median(over):>18.3f}  "
            f"{statistics.median(a for _, a in gens):>15.3f}  {len(gens):>5}"
        )
    print(
        f"loop overhead per generation: median {statistics.median(overheads):.3f} s over "
        f"{len(overheads)} generations (aim: under 2 s)"
    )
    print(
        f"evaluation of one candidate (dev and test, trusted evaluator): median "
        f"{statistics.median(EVAL_TIMES):.3f} s, max {max(EVAL_TIMES):.3f} s over "
        f"{len(EVAL_TIMES)} (aim: under 60 s)"
    )


if __name__ == "__main__":
    main()
