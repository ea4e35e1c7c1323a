"""End to end on the built-in text task: does a weights generation beat the harness-only
incumbent, and how long does it take?

Usage: python bench/weights_gain.py [--knob-gens 3] [--candidates 2]

In a fresh repository: `sia-git evolve --task word-sentiment-lm --lever knobs` for generation 1
(the reference agent: frozen all-MiniLM-L6-v2 embeddings and a logistic regression) plus
`--knob-gens` generations of the knob search, which gives the harness-only incumbent; then the
same run resumed with `--lever weights` for one generation: a LoRA adapter trained with peft on
the training split, scored with the incumbent's harness. Printed: every generation, the
incumbent before the weights generation, the weights generation's dev score, and the wall time
of that generation (training, scoring and confirmation). Issue 5: it must beat the incumbent
within a few minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def sia(repo: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sia_git", *args], cwd=repo, env=ENV, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"sia-git {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def incumbent(rows: list[dict]) -> dict:
    live = [r for r in rows if r["status"] == "accepted"]
    return live[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--knob-gens", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sia-bench-") as tmp:
        repo = Path(tmp)
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        subprocess.run(
            ["git", "commit", "-q", "--allow-empty", "-m", "start"], cwd=repo, env=ENV, check=True
        )
        gens = 1 + args.knob_gens
        start = time.monotonic()
        sia(
            repo,
            "evolve",
            "--task",
            "word-sentiment-lm",
            "--lever",
            "knobs",
            "--max-gen",
            str(gens),
            "--candidates",
            str(args.candidates),
        )
        harness_s = time.monotonic() - start
        log = json.loads(sia(repo, "log", "--json"))
        before = incumbent(log["rows"])
        start = time.monotonic()
        sia(
            repo,
            "evolve",
            "--run",
            log["run"],
            "--lever",
            "weights",
            "--max-gen",
            str(gens + 1),
            "--candidates",
            "1",
        )
        weights_s = time.monotonic() - start
        rows = json.loads(sia(repo, "log", "--json"))["rows"]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; task word-sentiment-lm "
        f"(all-MiniLM-L6-v2)"
    )
    for r in rows:
        score = "-" if r["score"] is None else f"{r['score']:.4f}"
        print(f"  gen {r['gen']:>2}  {r['lever']:<8} dev {score}  {r['status']}")
    weights = [r for r in rows if r["lever"] == "weights"]
    best = max((r["score"] for r in weights if r["score"] is not None), default=None)
    print(
        f"harness-only incumbent: gen {before['gen']} dev {before['score']:.4f} "
        f"({args.knob_gens} knob generation(s), {harness_s:.0f} s)"
    )
    if best is None:
        raise SystemExit("the weights generation produced no score")
    verdict = "beats" if best > before["score"] else "does NOT beat"
    print(
        f"weights generation: dev {best:.4f} {verdict} the harness-only incumbent "
        f"({best - before['score']:+.4f}) in {weights_s:.0f} s"
    )


if __name__ == "__main__":
    main()
