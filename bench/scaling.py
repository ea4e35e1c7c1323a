"""Past one machine, measured: the driver's own time per candidate, and what it predicts.

Usage: python bench/scaling.py [--sizes 8 32 128] [--sleep 2] [--gens 3] [--quick] [--no-write]
                               [--executors local ray cluster cluster-own-core]

`evolve` runs a no-op agent (it sleeps --sleep seconds and writes a fixed submission; its
knobs change nothing but give the offline search 128 distinct candidates) with 8, 32 and 128
candidates per generation, on the local executor (every candidate's sandbox at once), on
Ray (a local instance with up to RAY_CPUS one-CPU workers; the queue holds the rest), and on a
three-node Ray cluster (`cluster`: a head and two worker nodes started with `ray start`, each
its own process tree with CLUSTER_CPUS one-CPU slots, in a loopback-only network namespace, the
worker nodes without the task's answer key: tests/raycluster.py; the driver joins it with
`--ray-address` as a user's would, from a child process in that network), and on the same
cluster with the driver on a CPU of its own (`cluster-own-core`: the nodes on the other
CPUs), as a driver machine would be; on 2 cores every process shares every core otherwise,
and the agents' work stretches the driver's CPU time. The driver is probed, not guessed: the
wall time of proposing (the offline search), gating (each candidate's gate check: the cache's
answer, or its wait for a batched tool run), scoring
(each run of the trusted evaluator) and committing (everything in a generation after its
candidates: selection, a commit per candidate, the ref transaction,
the attempt record, notes, the worktree) is summed per generation and divided by the number
of candidates. That sum, d, is the work only the driver machine does; the agent's own run, a,
is what workers do. Amdahl's law with the serial fraction f = d / (d + a) predicts
candidates per hour on W workers: 3600 / (d + a) * 1 / (f + (1 - f) / W).

The table (and the machine) replaces the measured block in docs/SCALING.md unless --no-write
or --quick.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # as the Ray executor sets it
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, machine, new_repo  # noqa: E402

DOC = ROOT / "docs" / "SCALING.md"
START, END = "<!-- scaling:start -->", "<!-- scaling:end -->"
RAY_CPUS = 16  # Ray workers started here (each a process of ~100 MB): the rest queue
CLUSTER_CPUS = 5  # per node of the three-node cluster: 15 agents at once
EXECUTORS = ("local", "ray", "cluster", "cluster-own-core")
PHASES = ("proposing", "gating", "scoring", "committing")

NOOP = '''"""A no-op agent (bench/scaling.py): it sleeps, then writes the same submission."""

import argparse
import csv
import time
from pathlib import Path

KNOBS = {{"guess": "MALE", "pad": 0}}
KNOB_SPACE = {{"guess": ["MALE", "FEMALE"], "pad": {{"low": 0, "high": 100000, "type": "int"}}}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset_dir", type=Path, required=True)
    parser.add_argument("--working_dir", type=Path, required=True)
    args = parser.parse_args()
    time.sleep({sleep})
    out = args.working_dir / "predictions"
    out.mkdir(parents=True, exist_ok=True)
    for split in ("dev", "test"):
        with (args.dataset_dir / f"{{split}}.csv").open(encoding="utf-8", newline="") as f:
            ids = [row["id"] for row in csv.DictReader(f)]
        with (out / f"{{split}}.csv").open("w", encoding="utf-8", newline="") as f:
            f.write("id,sex\\n" + "".join(f"{{i}},{{KNOBS['guess']}}\\n" for i in ids))


if __name__ == "__main__":
    main()
'''


def noop_task(folder: Path, sleep_s: float) -> Path:
    """penguins (its inputs, answer key and evaluator) with the no-op agent as reference."""
    task = folder / "noop-task"
    shutil.copytree(ROOT / "tasks" / "penguins", task)
    (task / "task.toml").write_text(
        (task / "task.toml").read_text().replace('name = "penguins"', 'name = "noop"'),
        encoding="utf-8",
    )
    (task / "reference" / "target_agent.py").write_text(NOOP.format(sleep=sleep_s))
    return task


def tree_cpu() -> float:
    """CPU seconds of this process and every process under it (a process that ended counts
    in its parent's reaped-children times). On the cluster, agents run in the nodes'
    processes, not under the driver: this is then the driver's own work, and it counts what the
    wall-time phases cannot: that the driver's threads overlap, and that a phase waiting on a
    busy machine is not working."""
    tick = os.sysconf("SC_CLK_TCK")
    own = os.times()
    total = own.user + own.system + own.children_user + own.children_system
    todo, seen = [os.getpid()], set()
    while todo:
        pid = todo.pop()
        for kid in _children(pid):
            if kid in seen:
                continue
            seen.add(kid)
            todo.append(kid)
            try:
                fields = Path(f"/proc/{kid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
    return total


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


class Probe:
    """Times the driver's phases (and the agents) while `evolve` runs in this process."""

    def __init__(self) -> None:
        self.gens: list[dict[str, float]] = []
        self._now: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    def add(self, phase: str, seconds: float) -> None:
        with self._lock:
            self._now[phase] += seconds

    def timed(self, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(phase, time.perf_counter() - start)

        return wrapper

    @contextmanager
    def installed(self) -> Iterator[Probe]:
        from sia_git.evolve import candidates, executors, loop, trusted_scoring
        from sia_git.evolve.proposers.search import OfflineSearch
        from sia_git.gates.precommit import CandidateGates
        from sia_git.sandbox import Sandbox

        saved = [
            (OfflineSearch, "propose", OfflineSearch.propose),
            (CandidateGates, "check", CandidateGates.check),
            (candidates, "evaluate", candidates.evaluate),
            (trusted_scoring.TrustedScorer, "__call__", trusted_scoring.TrustedScorer.__call__),
            (Sandbox, "run", Sandbox.run),
            (executors.RayExecutor, "run", executors.RayExecutor.run),
            (loop, "_candidates", loop._candidates),
            (loop, "_generation", loop._generation),
        ]
        real_propose = OfflineSearch.propose

        def propose(search: Any, rnd: Any) -> list[Any]:
            start = time.perf_counter()
            makers = real_propose(search, rnd)
            self.add("proposing", time.perf_counter() - start)
            return [self.timed("proposing", make) for make in makers]

        real_generation = loop._generation

        def generation(ctx: Any, hist: Any, gen: int) -> bool:
            self._now.clear()
            start, cpu, own = time.perf_counter(), tree_cpu(), time.process_time()
            go = real_generation(ctx, hist, gen)
            now = dict(self._now)
            now["wall"] = time.perf_counter() - start
            now["cpu"] = tree_cpu() - cpu
            now["cpu_own"] = time.process_time() - own
            now["committing"] = now["wall"] - now.get("candidates", 0.0)
            now["n"] = ctx.cfg.candidates
            self.gens.append(now)
            return go

        OfflineSearch.propose = propose  # type: ignore[method-assign]
        CandidateGates.check = self.timed("gating", CandidateGates.check)  # type: ignore[method-assign]
        candidates.evaluate = self.timed("scoring", candidates.evaluate)
        trusted_scoring.TrustedScorer.__call__ = self.timed(  # type: ignore[method-assign]
            "scoring", trusted_scoring.TrustedScorer.__call__
        )
        Sandbox.run = self.timed("agent", Sandbox.run)  # type: ignore[method-assign]
        executors.RayExecutor.run = self.timed("agent", executors.RayExecutor.run)  # type: ignore[method-assign]
        loop._candidates = self.timed("candidates", loop._candidates)
        loop._generation = generation
        try:
            yield self
        finally:
            for owner, name, value in saved:
                setattr(owner, name, value)


def one(
    task: Path, executor: str, n: int, gens: int, address: str | None = None
) -> dict[str, float]:
    """Per candidate, averaged over the generations after the first (the reference agent)."""
    from sia_git.evolve import loop

    if executor == "ray" and address is None:
        import ray

        # Started here, before the run, to give it RAY_CPUS workers on this one machine; the
        # executor then joins this instance. Every server listens on 127.0.0.1.
        ray.init(
            num_cpus=min(n, RAY_CPUS),
            include_dashboard=False,
            log_to_driver=False,
            _node_ip_address="127.0.0.1",
        )
    probe = Probe()
    with tempfile.TemporaryDirectory() as tmp, probe.installed():
        repo = new_repo(Path(tmp) / "repo")
        cfg = {
            "task_dir": task,
            "max_gen": gens,
            "candidates": n,
            "workers": n,
            "confirm_runs": 0,
            "executor": executor,
            **({"ray_address": address} if address else {}),
        }
        loop.start(repo, cfg, echo=lambda line: None)
    total = defaultdict(float)
    for g in probe.gens:
        for k, v in g.items():
            total[k] += v
    count = sum(g["n"] for g in probe.gens)
    out = {k: total[k] / count for k in (*PHASES, "agent", "wall", "cpu", "cpu_own")}
    out["driver"] = sum(out[p] for p in PHASES)
    return out


def on_cluster(
    task: Path, sizes: list[int], gens: int, *, own_core: bool = False
) -> dict[int, dict[str, float]]:
    """Each size measured by a child process that joins the three-node cluster. `own_core`:
    the driver on the first CPU and the nodes on the others, as a driver machine of its own
    would be, instead of every process sharing every CPU."""
    import json

    sys.path.insert(0, str(ROOT))
    from tests.raycluster import RayCluster

    out = {}
    cpus, label = sorted(os.sched_getaffinity(0)), "cluster-own-core" if own_core else "cluster"
    pin = ["--pin", str(cpus[0])] if own_core else []
    if own_core:  # the nodes start from this process: they inherit the other CPUs
        os.sched_setaffinity(0, cpus[1:])
    try:
        # The head is marked trusted: candidates are scored there, off the driver.
        with RayCluster(
            workers=2, cpus=CLUSTER_CPUS, hide=[task / "private"], trusted=("head",)
        ) as c:
            for n in sizes:
                t0 = time.perf_counter()
                argv = [sys.executable, __file__, "--child", str(task), "--sizes", str(n),
                        "--gens", str(gens), "--address", c.address, *pin]  # fmt: skip
                done = c.run(argv)
                if done.returncode != 0:
                    raise SystemExit(f"{label} run of {n} failed: {done.stderr[-3000:]}")
                out[n] = json.loads(done.stdout.strip().splitlines()[-1])
                print(f"[{label} {n}] {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    finally:
        os.sched_setaffinity(0, cpus)
    return out


def amdahl(d: float, a: float, workers: int) -> tuple[float, float]:
    """(candidates per hour, efficiency) on `workers` workers."""
    f = d / (d + a)
    speedup = 1 / (f + (1 - f) / workers)
    return 3600 * speedup / (d + a), speedup / workers


def report(rows: list[tuple[str, int, dict[str, float]]], sleep_s: float) -> list[str]:
    out = [
        "| executor | candidates | proposing | gating | scoring | committing | driver d (wall) "
        "| driver CPU (its own process + its children) "
        "| agent a (Ray: with the wait for a worker) | generation wall / candidate "
        "| serial fraction f (wall) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for executor, n, r in rows:
        f = r["driver"] / (r["driver"] + r["agent"])
        # Only on the cluster are the agents outside the driver's process tree.
        cpu = "-"
        if executor.startswith("cluster"):
            own = 1000 * r["cpu_own"]
            cpu = f"**{1000 * r['cpu']:.1f} ms** ({own:.1f} + {1000 * r['cpu'] - own:.1f})"
        out.append(
            f"| {executor} | {n} | "
            + " | ".join(f"{1000 * r[p]:.1f} ms" for p in PHASES)
            + f" | {1000 * r['driver']:.1f} ms | {cpu} | {r['agent']:.2f} s "
            f"| {1000 * r['wall']:.0f} ms | {f:.4f} |"
        )
    # Past one machine the agents run on workers: the cluster's rows (else the local Ray
    # instance's) are the driver's own time. On the local executor the agents share the
    # driver's cores, which stretches its phases.
    remote = [r for r in rows if r[0] == "cluster"] or [r for r in rows if r[0] == "ray"] or rows
    worst = max(remote, key=lambda row: row[1])
    alone = min((row for row in rows if row[0] == "local"), key=lambda row: row[1], default=worst)
    agents = (alone[2]["agent"], 10.0, 60.0, 600.0)
    ds = [("driver CPU", worst[2]["cpu"])] if worst[0] == "cluster" else []
    own = [r for r in rows if r[0] == "cluster-own-core" and r[1] == worst[1]]
    if own:  # the driver as on a machine of its own: the shared cores no longer stretch it
        ds.insert(0, ("driver CPU on a core of its own", own[0][2]["cpu"]))
    ds.append(("driver wall (phases never overlapping: an upper bound)", worst[2]["driver"]))
    for name, d in ds:
        out += [
            "",
            f"Prediction (Amdahl) from the {name} at {worst[1]} candidates on {worst[0]}, "
            f"d = {1000 * d:.1f} ms per candidate, for the bench's agent (its run measured "
            f"alone: it sleeps {sleep_s:g} s) and for agents of 10, 60 and 600 s (candidates "
            "per hour, and the efficiency: speed-up / workers):",
            "",
            "| agent time a | serial fraction f | 8 workers | 64 workers | 512 workers |",
            "|---|---|---|---|---|",
        ]
        for a in agents:
            cells = [f"{ph:,.0f}/h ({100 * eff:.0f}%)" for ph, eff in
                     (amdahl(d, a, w) for w in (8, 64, 512))]  # fmt: skip
            out.append(f"| {a:.2f} s | {d / (d + a):.4f} | " + " | ".join(cells) + " |")
    phase = max(PHASES, key=lambda p: worst[2][p])
    out += ["", f"Largest phase of the driver's wall time at that size: **{phase}**."]
    return out


def write_doc(lines: list[str]) -> None:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    DOC.write_text(head + "\n".join([START, *lines, END]) + rest.split(END, 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--executors", nargs="+", default=[*EXECUTORS], choices=EXECUTORS)
    parser.add_argument("--sleep", type=float, default=2.0, help="the no-op agent's sleep, s")
    parser.add_argument("--gens", type=int, default=3, help="per run, the reference agent's too")
    parser.add_argument("--quick", action="store_true", help="a smoke run: numbers mean nothing")
    parser.add_argument("--no-write", action="store_true", help="leave docs/SCALING.md alone")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # a cluster measurement
    parser.add_argument("--address", help=argparse.SUPPRESS)
    parser.add_argument("--pin", type=int, help=argparse.SUPPRESS)  # the child's own CPU
    args = parser.parse_args()
    if args.child:
        import json

        if args.pin is not None:  # before Ray starts its threads: they inherit it
            os.sched_setaffinity(0, {args.pin})
        print(json.dumps(one(args.child, "ray", args.sizes[0], args.gens, args.address)))
        return
    if args.quick:
        args.sizes, args.sleep, args.gens = [2], 0.1, 2
    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        task = noop_task(Path(tmp), args.sleep)
        for n in args.sizes:
            for executor in [e for e in args.executors if not e.startswith("cluster")]:
                t0 = time.perf_counter()
                rows.append((executor, n, one(task, executor, n, args.gens)))
                print(f"[{executor} {n}] {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        if "cluster" in args.executors:
            measured = on_cluster(task, args.sizes, args.gens)
            rows += [("cluster", n, measured[n]) for n in args.sizes]
        if "cluster-own-core" in args.executors and len(os.sched_getaffinity(0)) < 2:
            print("[cluster-own-core] left out: it needs 2 CPUs or more", file=sys.stderr)
        elif "cluster-own-core" in args.executors:
            measured = on_cluster(task, args.sizes, args.gens, own_core=True)
            rows += [("cluster-own-core", n, measured[n]) for n in args.sizes]
    lines = [
        f"Run {dt.date.today().isoformat()} on {machine()}: no-op agent sleeping "
        f"{args.sleep:g} s, {args.gens - 1} measured generations per row, the whole bench "
        f"{(time.perf_counter() - start) / 60:.1f} minutes"
        + (" (--quick: smoke numbers)" if args.quick else "")
        + ".",
        "",
        *report(rows, args.sleep),
    ]
    print("\n".join(lines))
    if not args.no_write and not args.quick:
        write_doc(lines)
        print(f"\nwrote the table into {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
