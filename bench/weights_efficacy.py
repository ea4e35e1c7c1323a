"""Does the weights lever add to the harness? base, H, W and W+H on the sealed test.

Usage: python bench/weights_efficacy.py [--gens-h 1] [--candidates-h 4] [--minutes-h 8]
                                        [--tasks ...] [--no-write]

For each task (word-sentiment-smollm2; word-sentiment-lm as a control), each in a fresh
repository, with seed 0:

- base: the reference agent (generation 1);
- H: the knob search alone (`--lever knobs --search screen`): `--gens-h` generations of
  `--candidates-h` candidates after the reference (the first screens each knob alone), stopped after
  `--minutes-h` minutes if not done; its last accepted generation. One generation, as W has;
- W: one weights generation on the reference harness (`--lever weights --max-gen 2
  --candidates 1`);
- W+H: one weights generation on H's harness (H's agent file as generation 1, then as W).

Every choice is made on dev (a weights candidate is kept only if it beats its harness on dev);
the sealed test scores are as released by the run (rounded down to a one-SE grid). Each with a
95% interval of an accuracy on the test split's items. The table, machine and times replace the
"weights efficacy" section of docs/BENCHMARKS.md (unless --no-write).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, machine, new_repo  # noqa: E402
from efficacy import code_of, env_for, evolve_for, write  # noqa: E402

START, END = "<!-- weights-efficacy:start -->", "<!-- weights-efficacy:end -->"
TASKS = ("word-sentiment-smollm2", "word-sentiment-lm")


@dataclass
class Row:
    task: str
    arm: str
    dev: float | None
    test: float | None
    n_test: int
    seconds: float

    def interval(self) -> str:
        if self.test is None:
            return "-"
        half = 1.96 * math.sqrt(max(self.test * (1 - self.test), 1e-9) / self.n_test)
        return f"{self.test:.4f} ± {half:.4f}"


def last_accepted(repo: Path, env: dict[str, str]) -> dict:
    log = subprocess.run([sys.executable, "-m", "sia_git", "log", "--json"], cwd=repo, env=env,
                         capture_output=True, text=True, check=True)  # fmt: skip
    return [r for r in json.loads(log.stdout)["rows"] if r["status"] == "accepted"][-1]


def weights_run(repo: Path, task: str, env: dict[str, str], agent: Path | None) -> float:
    args = [sys.executable, "-m", "sia_git", "evolve", "--task", task, "--max-gen", "2",
            "--candidates", "1", "--lever", "weights", "--seed", "0", "--confirm-runs", "0",
            "--quiet"]  # fmt: skip
    args += ["--agent", str(agent)] if agent else []
    started = time.monotonic()
    done = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=1800)
    print(done.stdout[-2000:], done.stderr[-2000:], flush=True)
    return time.monotonic() - started


def test_items(task: str) -> int:
    with (ROOT / "tasks" / task / "private" / "test.csv").open(newline="") as f:
        return sum(1 for _ in csv.DictReader(f))


def measure(task: str, h: argparse.Namespace, code: Path, root: Path) -> list[Row]:
    env, n = env_for(code), test_items(task)
    rows: list[Row] = []
    h_repo = new_repo(root / f"{task}-h")
    h_s = evolve_for(h_repo, task, seconds=h.minutes_h * 60, candidates=h.candidates_h,
                     env=env, lever="knobs", max_gen=1 + h.gens_h,
                     search="screen")  # fmt: skip
    log = subprocess.run([sys.executable, "-m", "sia_git", "log", "--json"], cwd=h_repo,
                         env=env, capture_output=True, text=True, check=True)  # fmt: skip
    first = next(r for r in json.loads(log.stdout)["rows"] if r["gen"] == 1)
    rows.append(Row(task, "base", first["score"], first["test_score"], n, 0.0))
    h = last_accepted(h_repo, env)
    rows.append(Row(task, f"H (gen {h['gen']})", h["score"], h["test_score"], n, h_s))
    w_repo = new_repo(root / f"{task}-w")
    w_s = weights_run(w_repo, task, env, None)
    w = last_accepted(w_repo, env)
    rows.append(Row(task, f"W (gen {w['gen']})", w["score"], w["test_score"], n, w_s))
    agent = root / f"{task}-h-agent.py"
    source = f"{h['commit']}:sia-agent/agent/target_agent.py"
    agent.write_text(subprocess.run(["git", "show", source], cwd=h_repo, capture_output=True,
                                    text=True, check=True).stdout)  # fmt: skip
    wh_repo = new_repo(root / f"{task}-wh")
    wh_s = weights_run(wh_repo, task, env, agent)
    wh = last_accepted(wh_repo, env)
    rows.append(Row(task, f"W+H (gen {wh['gen']})", wh["score"], wh["test_score"], n, wh_s))
    return rows


def table(rows: list[Row], rev: str) -> list[str]:
    lines = ["| task | agent | dev | sealed test (95%) | wall |", "|---|---|---|---|---|"]
    for r in rows:
        dev = "-" if r.dev is None else f"{r.dev:.4f}"
        wall = f"{r.seconds / 60:.1f} min" if r.seconds else "-"
        lines.append(f"| {r.task} | {r.arm} | {dev} | {r.interval()} | {wall} |")
    lines += ["", f"- code: `{rev}`; seed 0; W and W+H: one weights candidate each "
              "(`--max-gen 2 --candidates 1 --lever weights`); the adapter is kept only if it "
              "beats its harness on dev, so a W row equal to its harness means it did not",
              f"- machine: {machine()}"]  # fmt: skip
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gens-h", type=int, default=1)
    p.add_argument("--minutes-h", type=float, default=8.0)
    p.add_argument("--candidates-h", type=int, default=4)
    p.add_argument("--tasks", nargs="*", default=list(TASKS))
    p.add_argument("--rev", default="HEAD")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sia-weights-") as tmp:
        root = Path(tmp)
        code = code_of(args.rev, root / "code")
        for task in args.tasks:
            print(f"== {task}", flush=True)
            rows += measure(task, args, code, root)
    rev = subprocess.run(["git", "rev-parse", "--short", args.rev], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    lines = table(rows, rev)
    lines.append(f"- H: {args.gens_h} knob generation(s) of {args.candidates_h} candidates after "
                 f"the reference, `--search screen` (at most {args.minutes_h:g} min)")  # fmt: skip
    print("\n".join(lines))
    if not args.no_write:
        write(lines, start=START, end=END, title="Weights efficacy: base, H, W, W+H (issue 30)")


if __name__ == "__main__":
    main()
