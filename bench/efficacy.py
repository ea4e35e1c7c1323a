"""Does the search make agents better, on the sealed test, and how fast does it try candidates?
The new search (paired acceptance, staged evaluation, reuse, warm start) against the old one
(the commit before issue 29), side by side: same tasks, same seed, same flags, same wall time.

Usage: python bench/efficacy.py [--old-rev 1449bf1] [--minutes-llm 8] [--minutes 2]
                                [--candidates 4] [--search NAME] [--no-write]

For each task (word-sentiment-smollm2, penguins, word-sentiment) and each arm, in a fresh
repository: `sia-git evolve` runs until its wall time is up (then it is interrupted, as Ctrl-C
would, and what it recorded stands). From the run's log:

- base: generation 1's sealed test score; H: the last accepted generation's. Each with the 95%
  interval of an accuracy on the test split's items (the released score is rounded down to a
  grid of one standard error by the sealed release rule, so it is conservative);
- candidates scored per hour: candidates of generation 2 on with a dev score (at the sample or
  whole), over the run's wall time; and the most this machine allows: the new arm's agents'
  mean run (their attempt records' `run.duration_s`), two at a time, with nothing else done.

Each arm runs its commit's code (a `git archive` of `--old-rev` or `--new-rev`, put first on
PYTHONPATH). The table, machine and times replace the "Efficacy" section of docs/BENCHMARKS.md
(unless --no-write). Nothing here is tuned on the test split: the runs select on dev only.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import GIT_ENV, ROOT, machine, new_repo  # noqa: E402

DOC = ROOT / "docs" / "BENCHMARKS.md"
START, END = "<!-- efficacy:start -->", "<!-- efficacy:end -->"
TASKS = ("word-sentiment-smollm2", "penguins", "word-sentiment")
WORKERS = 2  # evolve's default --workers, which both arms run with


@dataclass
class Arm:
    task: str
    arm: str
    base: float | None
    best: float | None
    best_gen: int | None
    n_test: int
    scored: int
    seconds: float
    agent_s: float | None = None  # the mean run of generation 2 on's agents (attempt records)

    def interval(self, score: float | None) -> str:
        if score is None:
            return "-"
        half = 1.96 * math.sqrt(max(score * (1 - score), 1e-9) / self.n_test)
        return f"{score:.4f} ± {half:.4f}"

    @property
    def per_hour(self) -> float:
        return self.scored / (self.seconds / 3600) if self.seconds else 0.0

    @property
    def ceiling(self) -> float | None:
        """Candidates per hour if this machine did nothing but run the agents, WORKERS at a
        time (evolve's default --workers): no search, gates, scoring or git at all."""
        return WORKERS * 3600 / self.agent_s if self.agent_s else None

    @property
    def gain_in_se(self) -> float | None:
        if self.base is None or self.best is None:
            return None
        se = math.sqrt(max(self.base * (1 - self.base), 1e-9) / self.n_test)
        return (self.best - self.base) / se


def code_of(rev: str, where: Path) -> Path:
    """A commit's package, unpacked (put first on PYTHONPATH: a checkout being edited while
    the bench runs changes neither arm)."""
    blob = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True)
    where.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile() as f:
        f.write(blob.stdout)
        f.seek(0)
        with tarfile.open(fileobj=f) as tar:
            tar.extractall(where, filter="data")
    return where


def env_for(code: Path) -> dict[str, str]:
    return {**os.environ, **GIT_ENV, "PYTHONPATH": str(code)}


def evolve_for(repo: Path, task: str, *, seconds: float, candidates: int,
               env: dict[str, str], lever: str | None = None, max_gen: int = 1000,
               search: str | None = None) -> float:  # fmt: skip
    """Run evolve until `seconds` pass (or `max_gen` ends it), then interrupt it as Ctrl-C
    would. The LLM task's runs use the knob lever only: this measures the search, and one LoRA
    training there takes most of the wall time (the weights lever has its own bench,
    weights_efficacy.py)."""
    args = [sys.executable, "-m", "sia_git", "evolve", "--task", task, "--max-gen", str(max_gen),
            "--candidates", str(candidates), "--seed", "0", "--quiet"]  # fmt: skip
    lever = lever or ("knobs" if task.endswith("smollm2") else None)
    if lever:
        args += ["--lever", lever]
    if search:
        args += ["--search", search]
    started = time.monotonic()
    proc = subprocess.Popen(args, cwd=repo, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=300)
    elapsed = time.monotonic() - started
    print(out[-3000:], flush=True)
    return elapsed


def measure(task: str, arm: str, *, seconds: float, candidates: int, code: Path,
            root: Path, search: str | None = None) -> Arm:  # fmt: skip
    repo = new_repo(root / f"{task}-{arm}")
    env = env_for(code)
    elapsed = evolve_for(repo, task, seconds=seconds, candidates=candidates, env=env,
                         search=search)  # fmt: skip
    log = subprocess.run([sys.executable, "-m", "sia_git", "log", "--json"], cwd=repo, env=env,
                         capture_output=True, text=True, check=True)  # fmt: skip
    rows = json.loads(log.stdout)["rows"]
    accepted = [r for r in rows if r["status"] == "accepted"]
    first = next(r for r in rows if r["gen"] == 1)
    scored = sum(1 for r in rows if (r["gen"] or 0) >= 2 and r["score"] is not None)
    return Arm(task, arm, first["test_score"], accepted[-1]["test_score"], accepted[-1]["gen"],
               test_items(task), scored, elapsed, agent_seconds(repo))  # fmt: skip


def agent_seconds(repo: Path) -> float | None:
    """The mean `run.duration_s` of generation 2 on's candidates, from the attempt records."""
    listed = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname)", "refs/sia/*/attempts/*"],
        cwd=repo, capture_output=True, text=True, check=True,
    )  # fmt: skip
    refs = listed.stdout.split()
    runs = []
    for ref in refs:
        if ref.endswith("/g0001"):
            continue
        shown = subprocess.run(["git", "show", f"{ref}:attempt.json"], cwd=repo,
                               capture_output=True, text=True)  # fmt: skip
        if shown.returncode != 0:
            continue
        for c in json.loads(shown.stdout).get("candidates", []):
            seconds = (c.get("run") or {}).get("duration_s")
            if isinstance(seconds, int | float):
                runs.append(float(seconds))
    return sum(runs) / len(runs) if runs else None


def test_items(task: str) -> int:
    with (ROOT / "tasks" / task / "private" / "test.csv").open(newline="") as f:
        return sum(1 for _ in csv.DictReader(f))


def table(arms: list[Arm], old_rev: str, new_rev: str) -> list[str]:
    lines = [
        "| task | search | base (test, 95%) | H (test, 95%) | H − base | in SEs | best gen | "
        "candidates scored | per hour | wall |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for a in arms:
        gain = None if a.base is None or a.best is None else a.best - a.base
        lines.append(
            f"| {a.task} | {a.arm} | {a.interval(a.base)} | {a.interval(a.best)} | "
            + ("-" if gain is None else f"{gain:+.4f}")
            + f" | {'-' if a.gain_in_se is None else f'{a.gain_in_se:+.1f}'} | {a.best_gen} | "
            f"{a.scored} | {a.per_hour:.0f} | {a.seconds / 60:.1f} min |"
        )
    lines.append("")
    for task in dict.fromkeys(a.task for a in arms):
        new = next(a for a in arms if a.task == task and a.arm == "new")
        old = next(a for a in arms if a.task == task and a.arm == "old")
        if old.per_hour:
            ratio = new.per_hour / old.per_hour
            line = f"- {task}: candidates per hour, new/old: {ratio:.2f}"
            if new.ceiling:  # what 3x would need, against what the agents alone allow here
                line += (f"; the agents alone (mean run {new.agent_s:.2f} s, {WORKERS} at a "
                         f"time) allow at most {new.ceiling:.0f}/h here, "
                         f"{new.ceiling / old.per_hour:.2f}x the old search's")  # fmt: skip
            lines.append(line)
        else:  # a ratio over zero is no number: say what happened instead
            lines.append(f"- {task}: candidates per hour, the old search scored none in "
                         f"{old.seconds / 60:.1f} min; the new one {new.scored}")  # fmt: skip
    lines += [f"- old search: the code of commit `{old_rev}` (before issue 29), same flags; "
              f"new search: `{new_rev}`",
              f"- machine: {machine()}"]  # fmt: skip
    return lines


def write(lines: list[str], *, start: str = START, end: str = END,
          title: str = "Efficacy: the new search against the old") -> None:  # fmt: skip
    """Replace the section between `start` and `end` of docs/BENCHMARKS.md (or add it)."""
    text = DOC.read_text(encoding="utf-8")
    block = "\n".join([start, *lines, end])
    if start in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + f"\n\n## {title}\n\n" + block + "\n"
    DOC.write_text(text, encoding="utf-8")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old-rev", default="1449bf1")
    p.add_argument("--new-rev", default="HEAD")
    p.add_argument("--minutes-llm", type=float, default=8.0)
    p.add_argument("--minutes", type=float, default=2.0)
    p.add_argument("--candidates", type=int, default=4)
    p.add_argument("--search", default=None, help="the new arm's --search (default: its default)")
    p.add_argument("--tasks", nargs="*", default=list(TASKS))
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="sia-efficacy-") as tmp:
        root = Path(tmp)
        old = code_of(args.old_rev, root / "old-code")
        new = code_of(args.new_rev, root / "new-code")
        arms: list[Arm] = []
        for task in args.tasks:
            minutes = args.minutes_llm if task.endswith("smollm2") else args.minutes
            for arm, code, search in (("old", old, None), ("new", new, args.search)):
                print(f"== {task}, {arm} search, {minutes} min", flush=True)
                arms.append(measure(task, arm, seconds=minutes * 60, candidates=args.candidates,
                                    code=code, root=root, search=search))  # fmt: skip
    new_rev = subprocess.run(["git", "rev-parse", "--short", args.new_rev], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    how = f"` with `--search {args.search}" if args.search else "` with the default, `--search auto"
    lines = table(arms, args.old_rev, f"{new_rev}{how}")
    print("\n".join(lines))
    if not args.no_write:
        write(lines)


if __name__ == "__main__":
    main()
