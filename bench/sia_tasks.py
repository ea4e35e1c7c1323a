"""SIA's own tasks, as the `sia-agent` 0.6.0 wheel ships them, each run for generation 1 with its
own reference agent, unchanged (`--agent <task>/reference/reference_target_agent.py`).

Usage: python bench/sia_tasks.py [--wheel PATH] [--no-write]

The target model is a scripted OpenAI-compatible endpoint on 127.0.0.1 (no hosted model can be
reached here, and SmolLM2 on 2 CPU cores would take hours for gpqa's 198 questions at up to
1,000 tokens each): it answers every question with one of A-D picked by a hash of the question
(so the score is near chance, 0.25) and every other request with a short text. What the bench
shows is the plumbing: that each reference agent reaches the run's model through the gateway
with no edit (its calls in `gateway.jsonl`, none refused), that its run commits a scored
generation 1, and that a run that cannot succeed is recorded with the reason. The table replaces
the "SIA's own tasks" section of docs/BENCHMARKS.md (unless --no-write).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.fakellm, from a checkout

from common import GIT_ENV, ROOT, git, machine, new_repo  # noqa: E402

from tests.fakellm import FakeLLM, Reply, text  # noqa: E402

TASKS = ["gpqa", "lawbench", "longcot-chess", "spaceship-titanic"]
DOC = ROOT / "docs" / "BENCHMARKS.md"
START, END = "<!-- sia_tasks:start -->", "<!-- sia_tasks:end -->"


def scripted(body: dict, n: int) -> Reply:
    """The scripted model: a letter (as JSON, which every SIA agent parses) picked by a hash of
    the last message, so answers are fixed per question and near chance on a 4-choice task."""
    last = json.dumps(body.get("messages", [])[-1:])
    letter = "ABCD"[hashlib.sha256(last.encode()).digest()[0] % 4]
    return text(json.dumps({"answer": letter}), prompt_tokens=100, completion_tokens=8)


def wheel_path(given: str | None, scratch: Path) -> Path:
    if given or os.environ.get("SIA_AGENT_WHEEL"):
        return Path(given or os.environ["SIA_AGENT_WHEEL"])
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "--only-binary=:all:", "sia-agent==0.6.0", "-d", str(scratch)],
                   check=True)  # fmt: skip
    return next(scratch.glob("sia_agent-*.whl"))


def unpack(wheel: Path, dest: Path) -> Path:
    with zipfile.ZipFile(wheel) as z:
        z.extractall(dest)
    return dest / "sia" / "tasks"


def gateway_log(repo: Path, attempt: str) -> list[dict]:
    """Generation 1's gateway log (its one candidate is c0)."""
    done = subprocess.run(["git", "show", f"{attempt}:c0/gateway.jsonl"], cwd=repo,
                          capture_output=True, text=True)  # fmt: skip
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def run_task(task: Path, repo: Path, api_base: str) -> dict:
    agent = task / "reference" / "reference_target_agent.py"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "sia_git", "evolve", "--task-dir", str(task), "--agent",
         str(agent), "--max-gen", "1", "--candidates", "1", "--target-model", "openai/scripted",
         "--target-api-base", api_base, "--target-api-key-env", "BENCH_SCRIPTED_KEY",
         "--quiet"],
        cwd=repo, capture_output=True, text=True,
        env={**os.environ, **GIT_ENV, "BENCH_SCRIPTED_KEY": "scripted-key"},
    )  # fmt: skip
    seconds = time.monotonic() - started
    row = {"task": task.name, "exit": done.returncode, "seconds": seconds}
    out = (done.stdout + done.stderr).strip()
    row["said"] = out.splitlines()[-1] if out else ""
    attempts = git(repo, "for-each-ref", "--format=%(refname)", "refs/sia/").split()
    attempt = next((r for r in attempts if r.endswith("/attempts/g0001")), None)
    if attempt is None:
        return row
    row["attempt"] = True
    log = gateway_log(repo, attempt)
    row["calls"] = len(log)
    row["refused"] = sum(1 for e in log if e.get("status") == 429)
    row["answered"] = sum(1 for e in log if e.get("status") == 200 and e.get("reply"))
    branch = "sia/" + attempt.split("/")[2]
    done = subprocess.run(["git", "log", "-1", "--format=%(trailers:only,unfold)", branch],
                          cwd=repo, capture_output=True, text=True)  # fmt: skip
    for line in done.stdout.splitlines():
        key, _, value = line.partition(": ")
        if key in ("Sia-Score", "Sia-Score-Test"):
            row[key] = value
    return row


def table(rows: list[dict]) -> str:
    head = ("| task | exit | generation 1 | model calls (answered, refused) | dev score "
            "| sealed test | time | what sia-git said |\n"
            "|---|---|---|---|---|---|---|---|\n")  # fmt: skip
    lines = []
    for r in rows:
        gen = "committed" if "Sia-Score" in r else ("recorded failure" if r.get("attempt")
                                                      else "not started")  # fmt: skip
        calls = f"{r['calls']} ({r['answered']}, {r['refused']})" if "calls" in r else "-"
        said = r["said"].replace("|", "\\|")[:220]
        dev, test = r.get("Sia-Score", "-"), r.get("Sia-Score-Test", "-")
        lines.append(f"| {r['task']} | {r['exit']} | {gen} | {calls} | {dev} | {test} "
                     f"| {r['seconds']:.0f} s | {said} |")  # fmt: skip
    return head + "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--wheel", help="the sia-agent 0.6.0 wheel (default: SIA_AGENT_WHEEL, else pip)")
    p.add_argument("--no-write", action="store_true", help="print the table only")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, FakeLLM(scripted) as llm:
        tasks = unpack(wheel_path(args.wheel, Path(tmp)), Path(tmp) / "wheel")
        for name in TASKS:
            print(f"[{name}] running generation 1 ...", flush=True)
            row = run_task(tasks / name, new_repo(Path(tmp) / f"repo-{name}"), llm.api_base)
            print(f"[{name}] {row}", flush=True)
            rows.append(row)
    text = f"Run {time.strftime('%Y-%m-%d')} on {machine()}.\n\n{table(rows)}"
    print(text)
    if not args.no_write:
        doc = DOC.read_text(encoding="utf-8")
        before, _, rest = doc.partition(START)
        _, _, after = rest.partition(END)
        DOC.write_text(f"{before}{START}\n{text}{END}{after}", encoding="utf-8")


if __name__ == "__main__":
    main()
