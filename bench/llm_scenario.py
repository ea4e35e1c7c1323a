"""SIA's headline scenario on this machine's CPU: an LLM-calling agent whose harness, then
weights, improve, scored on the sealed test split.

Usage: python bench/llm_scenario.py [--knob-gens 4] [--candidates 2] [--no-write]

In a fresh repository, on the built-in task word-sentiment-smollm2 (the agent asks
SmolLM2-135M-Instruct, served by sia-git, about each word through the openai SDK):

- **base**: generation 1, the task's reference agent, unchanged;
- **H**: the incumbent after `--knob-gens` generations of `--lever knobs` (prompt wording,
  few-shot examples, parsing, votes, temperature);
- **W+H**: the same run resumed for one generation with `--lever weights`: a LoRA adapter trained
  on the training words, rewarded by the task's evaluator (group-relative), served to H's
  harness. When the weights candidate does not beat H on dev it is not committed and W+H is H.

Selection uses dev only; the test column is each committed generation's aggregate test score
(the only thing the run stores of the test split). The standard error is that of an accuracy on
the test split's 150 items. The table, the machine and the times replace the "LLM-agent
scenario" section of docs/BENCHMARKS.md (unless --no-write).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, git, machine, new_repo, sia  # noqa: E402

TASK = "word-sentiment-smollm2"
TEST_ITEMS = 150
DOC = ROOT / "docs" / "BENCHMARKS.md"
START, END = "<!-- llm_scenario:start -->", "<!-- llm_scenario:end -->"


def evolve(repo: Path, *args: str) -> float:
    started = time.monotonic()
    done = sia("evolve", *args, cwd=repo)
    if done.returncode != 0:
        raise SystemExit(f"sia-git evolve {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    print(done.stdout, flush=True)
    return time.monotonic() - started


def incumbent(repo: Path) -> dict:
    rows = json.loads(sia("log", "--json", cwd=repo).stdout)["rows"]
    return [r for r in rows if r["status"] == "accepted"][-1]


def dev_seconds(repo: Path, run_id: str, gen: int, cand: str) -> float | None:
    """The agent's own time for the dev split (its trace), one candidate."""
    try:
        trace = git(repo, "show", f"refs/sia/{run_id}/attempts/g{gen:04d}:{cand}/work/trace.jsonl")
    except Exception:
        return None
    for line in trace.splitlines():
        entry = json.loads(line)
        if entry.get("split") == "dev":
            return float(entry["seconds"])
    return None


def se(p: float) -> float:
    return math.sqrt(p * (1 - p) / TEST_ITEMS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--knob-gens", type=int, default=4)
    parser.add_argument("--candidates", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="sia-bench-llm-") as tmp:
        repo = new_repo(Path(tmp) / "repo")
        common = ("--candidates", str(args.candidates), "--confirm-runs", "0")
        gens = 1 + args.knob_gens
        h_s = evolve(repo, "--task", TASK, "--lever", "knobs", "--max-gen", str(gens), *common)
        run_id = json.loads(sia("log", "--json", cwd=repo).stdout)["run"]
        rows = json.loads(sia("log", "--json", cwd=repo).stdout)["rows"]
        base, h = rows[0], incumbent(repo)
        w_s = evolve(repo, "--run", run_id, "--lever", "weights", "--max-gen", str(gens + 1),
                     "--candidates", "1", "--confirm-runs", "0")  # fmt: skip
        wh = incumbent(repo)
        per_candidate = [
            s
            for g in range(2, gens + 1)
            for c in range(1, args.candidates + 1)
            if (s := dev_seconds(repo, run_id, g, f"c{c}")) is not None
        ]
    table = [
        "| agent | generation | dev | test | test ± 1 SE | what changed |",
        "|---|---|---|---|---|---|",
    ]
    for label, r, what in (
        ("base", base, "the reference agent"),
        ("H", h, f"best of {args.knob_gens} knob generations × {args.candidates}"),
        ("W+H", wh, "H's harness + a LoRA adapter (generation objective)"
         if wh["gen"] != h["gen"] else "the weights candidate did not beat H on dev: H"),
    ):  # fmt: skip
        t = r["test_score"]
        table.append(
            f"| {label} | {r['gen']} | {r['score']:.4f} | {t:.4f} | ± {se(t):.4f} | {what} |"
        )
    gains = [
        f"H − base: {h['test_score'] - base['test_score']:+.4f} on test "
        f"(one SE ≈ {se(h['test_score']):.4f})",
        f"W+H − H: {wh['test_score'] - h['test_score']:+.4f} on test",
    ]
    per = sorted(per_candidate)
    times = [
        f"- harness stage (generation 1 and {args.knob_gens} knob generations): {h_s:.0f} s",
        f"- weights stage (one generation: training, then scoring): {w_s:.0f} s",
        f"- total: {h_s + w_s:.0f} s ({(h_s + w_s) / 60:.1f} min)",
        f"- dev split (150 words) per candidate, the agent's own time: median "
        f"{per[len(per) // 2]:.1f} s over {len(per)} candidates"
        if per
        else "- dev time: -",
        f"- machine: {machine()}",
    ]
    lines = [*table, "", *[f"- {g}" for g in gains], *times]
    print("\n".join(lines))
    if not args.no_write:
        text = DOC.read_text(encoding="utf-8")
        block = "\n".join([START, *lines, END])
        if START in text:
            head, rest = text.split(START, 1)
            text = head + block + rest.split(END, 1)[1]
        else:
            text = text.rstrip() + "\n\n## LLM-agent scenario (issue 18)\n\n" + block + "\n"
        DOC.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
