"""`sia-git evolve` with models, end to end through the real command line and real litellm.

The model provider is tests/fakellm.py: an OpenAI-compatible server on 127.0.0.1 that plays
scripted replies (tool calls included). Scripts read the conversation they are given (which
agent is asking, which generation, how many turns so far), so concurrent candidates each get
their own consistent story.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sia_git.tasks.task import resolve
from tests.conftest import GIT_ENV, Runner, git, make_repo, run_ids
from tests.fakellm import FakeLLM, Reply, code_reply, error, text, tool

pytestmark = pytest.mark.slow
MODEL = "openai/gpt-4o-mini"
REFERENCE = resolve("penguins", None).reference_agent.read_text()
THRESHOLD = '"model": "threshold",\n\n    "features": "mass",'
MAJORITY_AGENT = REFERENCE.replace(THRESHOLD, '"model": "majority",\n\n    "features": "mass",')
KNN_MORPHO = '"model": "knn",\n\n    "features": "morpho",'  # dev 0.725, beats threshold's 0.675
PRIVATE = resolve("penguins", None).private_dir


def role(body: dict[str, Any]) -> str:
    return "meta" if "Meta-Agent" in body["messages"][0]["content"] else "feedback"


def generation(body: dict[str, Any]) -> int:
    m = re.search(r"for generation (\d+)", body["messages"][0]["content"])
    return int(m.group(1)) if m else 1


def turn(body: dict[str, Any]) -> int:
    return sum(1 for m in body["messages"] if m["role"] == "assistant")


def finish(**kw: str) -> Reply:
    args = {
        "subject": "switch the classifier",
        "diagnosis": "the incumbent misclassifies many birds",
        "hypothesis": "a better model separates the sexes",
        "change": "edited KNOBS",
        "lever": "harness",
        "lever_reason": "the model choice is code-level",
    }
    return tool("finish", **{**args, **kw})


def good_feedback(search: str, replace: str) -> Callable[[dict[str, Any]], Reply]:
    steps = [
        tool("list_generations"),
        tool("eval_summary", generation=1),
        tool("read_trace", generation=1, name="stdout.txt"),
        tool("read_agent_file"),
        tool("edit_agent_file", search=search, replace=replace),
        finish(),
    ]
    return lambda body: steps[min(turn(body), len(steps) - 1)]


def evolve(
    sia: Runner, repo: Path, llm: FakeLLM, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return sia(
        "evolve",
        "--task",
        "penguins",
        "--model",
        MODEL,
        "--api-base",
        llm.api_base,
        "--candidates",
        "1",
        "--confirm-runs",
        "0",
        # These tests follow the Feedback-Agent's flow; the scripted edits gain a few of
        # penguins' 80 dev items, below the paired test's level (tests/test_evidence.py).
        "--accept",
        "1",
        *args,
        cwd=repo,
        env=env,
    )


def trailers(repo: Path, rev: str) -> dict[str, str]:
    msg = git(repo, "log", "-1", "--format=%B", rev)
    out = subprocess.run(
        ["git", "interpret-trailers", "--parse"],
        input=msg,
        text=True,
        capture_output=True,
        check=True,
    ).stdout
    return dict(line.split(": ", 1) for line in out.splitlines())


def attempt(repo: Path, run_id: str, gen: int) -> dict[str, Any]:
    return json.loads(git(repo, "show", f"refs/sia/{run_id}/attempts/g{gen:04d}:attempt.json"))


def blob(repo: Path, run_id: str, gen: int, path: str) -> str:
    return git(repo, "show", f"refs/sia/{run_id}/attempts/g{gen:04d}:{path}")


def fsck_clean(repo: Path) -> bool:
    done = subprocess.run(["git", "fsck", "--strict"], cwd=repo, capture_output=True, text=True)
    return done.returncode == 0 and "error" not in done.stderr


def test_meta_agent_writes_generation_one_and_a_feedback_patch_is_generation_two(
    repo: Path, sia: Runner
) -> None:
    feedback = good_feedback('"model": "majority",', '"model": "threshold",')

    def script(body: dict[str, Any], n: int) -> Reply:
        if role(body) == "meta":  # first a reply with no code: it is retried with the error
            return (
                text("Sure! I would use a classifier.")
                if turn(body) == 0
                else code_reply(MAJORITY_AGENT)
            )
        return feedback(body)

    with FakeLLM(script) as llm:
        done = evolve(sia, repo, llm, "--max-gen", "2")
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    gen1, gen2 = git(repo, "rev-list", "--reverse", f"refs/sia/{run_id}/base..sia/{run_id}").split()

    t1 = trailers(repo, gen1)
    assert t1["Sia-Model"] == MODEL and float(t1["Sia-Cost-USD"]) > 0
    assert t1["Sia-Transcript"] == f"refs/sia/{run_id}/attempts/g0001:c0/meta-transcript.json"
    assert git(repo, "show", f"{gen1}:sia-agent/agent/target_agent.py") == MAJORITY_AGENT
    meta = json.loads(blob(repo, run_id, 1, "c0/meta-transcript.json"))
    assert meta["calls"] == 2 and "no ```python code block" in meta["messages"][3]["content"]

    t2 = trailers(repo, gen2)
    assert t2["Sia-Generation"] == "2" and t2["Sia-Lever"] == "harness"
    assert t2["Sia-Lever-Reason"] == "the model choice is code-level"
    assert t2["Sia-Model"] == MODEL and float(t2["Sia-Cost-USD"]) == pytest.approx(6 * 0.000045)
    assert float(t2["Sia-Score"]) > float(t1["Sia-Score"])
    assert '+    "model": "threshold",' in git(repo, "show", gen2)
    improvement = git(repo, "show", f"{gen2}:sia-agent/notes/g0002.md")
    assert "## Diagnosis" in improvement and "## What changed" in improvement
    transcript = json.loads(git(repo, "show", t2["Sia-Transcript"]))
    called = [
        c["function"]["name"] for m in transcript["messages"] for c in m.get("tool_calls", [])
    ]
    assert called == [
        "list_generations",
        "eval_summary",
        "read_trace",
        "read_agent_file",
        "edit_agent_file",
        "finish",
    ]

    # The feedback agent saw scores and failed item ids, never an expected answer.
    shown = json.dumps(llm.requests)
    assert "failed items (id: status)" in shown
    for split in ("dev", "test"):
        for line in (PRIVATE / f"{split}.csv").read_text().splitlines()[1:]:
            assert line not in shown, line
    shown_gen2 = sia("show", "2", cwd=repo).stdout
    assert f"transcript: git show refs/sia/{run_id}/attempts/g0002:c1/transcript.json" in (
        shown_gen2
    )
    log = json.loads(sia("log", "--json", cwd=repo).stdout)
    assert log["total_cost_usd"] == pytest.approx(
        float(t1["Sia-Cost-USD"]) + float(t2["Sia-Cost-USD"])
    )
    assert fsck_clean(repo)
    audit = sia("audit", cwd=repo)
    assert audit.returncode == 0 and "clean" in audit.stdout, audit.stdout + audit.stderr


BAD: dict[str, Callable[[dict[str, Any], int], Reply]] = {
    "no code": lambda body, n: finish(),  # finishes without any edit
    "code that does not parse": lambda body, n: [
        tool("edit_agent_file", search="import argparse\n", replace="import argparse(\n"),
        finish(),
    ][min(turn(body), 1)],
    "a patch that does not apply": lambda body, n: [
        tool("edit_agent_file", search="no such text", replace="x"),
        finish(),
    ][min(turn(body), 1)],
    "a truncated reply": lambda body, n: Reply(
        tool_calls=[
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "edit_agent_file", "arguments": '{"search": "KNOBS = {\\n  "'},
            }
        ],
        finish_reason="length",
    ),
    "a 20 MB reply": lambda body, n: Reply(content="x" * 20_000_000),
    "a refusal": lambda body, n: text("I'm sorry, but I can't help with that."),
    "a tool-call loop past the turn limit": lambda body, n: tool("list_generations"),
    "a timeout": lambda body, n: Reply(content="late", delay_s=4),
    "500 forever": lambda body, n: error(500),
}
EXPECTED = {
    "no code": "finished without changing the agent",
    "code that does not parse": "gate-failed",
    "a patch that does not apply": "search` text not found",
    "a truncated reply": "no `finish` within the 6-turn limit",
    "a 20 MB reply": "over the limit",
    "a refusal": "does not call the tools",
    "a tool-call loop past the turn limit": "no `finish` within the 6-turn limit",
    "a timeout": "Timeout",
    "500 forever": "HTTP 500",
}


def test_plain_git_revert_of_an_older_knob_or_code_generation_applies_and_is_scored_next(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    """Every generation once rewrote sia-agent/improvement.md and knob edits touched adjacent
    lines, so a plain `git revert` of anything but the tip conflicted. Now each generation's
    note is a file of its own and KNOBS keep a blank line between knobs: from a majority vote,
    generation 2 switches to knn (a knob line), 3 standardises in code, 4 switches the features
    (the knob two lines below 2's); `git revert` of 3 and then of 2 apply cleanly, leave 4's
    change in place, and the next `evolve --run` scores what is left."""
    edits = {
        2: ('"model": "majority",', '"model": "knn",'),  # dev 0.5125 -> 0.75
        3: ('    if knobs["standardize"]:\n', "    if True:  # always standardise\n"),  # 0.7625
        4: ('"features": "mass",', '"features": "morpho",'),  # 0.9
    }

    def script(body: dict[str, Any], n: int) -> Reply:
        gen = generation(body)
        if gen not in edits:
            return finish()  # no change: a failed candidate
        return good_feedback(*edits[gen])(body)

    start = tmp_path / "agent.py"
    start.write_text(MAJORITY_AGENT)
    with FakeLLM(script) as llm:
        done = evolve(sia, repo, llm, "--agent", str(start), "--max-gen", "4", "--stage", "0")
        assert done.returncode == 0, done.stderr + done.stdout
        [run_id] = run_ids(repo)
        tree = repo / ".git" / "sia" / "worktrees" / run_id
        gens = git(tree, "rev-list", "--reverse", f"refs/sia/{run_id}/base..HEAD").split()
        assert [trailers(repo, c)["Sia-Generation"] for c in gens] == ["1", "2", "3", "4"]
        for older in (gens[2], gens[1]):  # the code generation, then the knob one
            reverted = subprocess.run(
                ["git", "revert", "--no-edit", older],
                cwd=tree,
                capture_output=True,
                text=True,
                env={**os.environ, **GIT_ENV},
            )
            assert reverted.returncode == 0, reverted.stdout + reverted.stderr
        agent = (tree / "sia-agent" / "agent" / "target_agent.py").read_text()
        assert agent == MAJORITY_AGENT.replace(*edits[4])  # only generation 4's change is left
        notes = sorted(p.name for p in (tree / "sia-agent" / "notes").iterdir())
        assert notes == ["g0001.md", "g0004.md"]
        again = evolve(sia, repo, llm, "--run", run_id, "--max-gen", "5")
    assert again.returncode == 0, again.stderr + again.stdout
    assert "re-scored the branch tip as the baseline: dev 0.5125" in again.stdout
    rows = json.loads(sia("log", "--json", cwd=repo).stdout)["rows"]
    status = {r["commit"]: r["status"] for r in rows}
    assert status[gens[1]] == status[gens[2]] == "reverted" and status[gens[3]] == "accepted"


@pytest.mark.parametrize("behaviour", sorted(BAD))
def test_bad_model_behaviour_is_a_recorded_failed_candidate_and_the_run_goes_on(
    repo: Path, sia: Runner, behaviour: str
) -> None:
    good = good_feedback(THRESHOLD, KNN_MORPHO)

    def script(body: dict[str, Any], n: int) -> Reply:
        if generation(body) == 2 or behaviour == "500 forever":
            return BAD[behaviour](body, n)
        return good(body)

    with FakeLLM(script) as llm:
        done = evolve(
            sia,
            repo,
            llm,
            "--agent",
            str(resolve("penguins", None).reference_agent),
            "--max-gen",
            "3",
            "--feedback-turns",
            "6",
            "--model-retries",
            "1",
            "--model-timeout",
            "2",
            "--lever",  # no offline fallback: generation 3 patches the reference agent
            "harness",
        )
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    failed = attempt(repo, run_id, 2)["candidates"][0]
    assert failed["verdict"] != "accepted" and failed["commit"]
    assert EXPECTED[behaviour] in failed["reason"] + failed["status"], failed
    rejected = git(repo, "rev-parse", f"refs/sia/{run_id}/rejected/g0002-c1").strip()
    assert trailers(repo, rejected)["Sia-Rejected"].startswith(failed["status"])
    assert "transcript.json" in git(
        repo, "ls-tree", "-r", "--name-only", f"refs/sia/{run_id}/attempts/g0002"
    )
    third = attempt(repo, run_id, 3)  # the run went on
    if behaviour == "500 forever":
        assert third["accepted"] is None
    else:
        assert third["accepted"] == 1, third
        assert trailers(repo, f"sia/{run_id}")["Sia-Generation"] == "3"
    assert fsck_clean(repo)


def test_429_then_success_gives_a_normal_candidate(repo: Path, sia: Runner) -> None:
    good = good_feedback(THRESHOLD, KNN_MORPHO)
    with FakeLLM(lambda body, n: error(429) if n == 0 else good(body)) as llm:
        done = evolve(
            sia,
            repo,
            llm,
            "--agent",
            str(resolve("penguins", None).reference_agent),
            "--max-gen",
            "2",
            "--model-retries",
            "2",
        )
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    assert attempt(repo, run_id, 2)["accepted"] == 1
    assert len(llm.requests) == 7  # the refused call, then six turns


def test_401_stops_the_run_with_one_line_and_resuming_goes_on(repo: Path, sia: Runner) -> None:
    agent = str(resolve("penguins", None).reference_agent)
    env = {"SIA_TEST_KEY": "sk-test-wrong-key-0123456789"}
    with FakeLLM(lambda body, n: error(401, "Incorrect API key provided")) as llm:
        done = evolve(
            sia,
            repo,
            llm,
            "--agent",
            agent,
            "--max-gen",
            "3",
            "--api-key-env",
            "SIA_TEST_KEY",
            env=env,
        )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "refused the credentials (HTTP 401): check SIA_TEST_KEY" in done.stderr
    [run_id] = run_ids(repo)
    assert attempt(repo, run_id, 2)["candidates"][0]["status"] == "model-failed"
    assert fsck_clean(repo)

    good = good_feedback(THRESHOLD, KNN_MORPHO)
    with FakeLLM(lambda body, n: good(body)) as llm:
        again = sia(
            "evolve",
            "--run",
            run_id,
            "--api-base",
            llm.api_base,
            cwd=repo,
            env={"SIA_TEST_KEY": "sk-test-right-key-0123456789"},
        )
    assert again.returncode == 0, again.stderr
    assert attempt(repo, run_id, 3)["accepted"] == 1


def test_budget_stops_the_run_before_it_is_exceeded_and_resuming_goes_on(
    repo: Path, sia: Runner
) -> None:
    # A priced profile: $0.00001 per reply token, 100 tokens at most: a call's worst case is
    # $0.001, and each scripted reply (50 tokens) costs $0.0005.
    (repo / "sia-git.toml").write_text(
        '[profiles.priced]\nmodel = "openai/house-model"\ninput_cost_per_token = 0.0\n'
        "output_cost_per_token = 0.00001\nmax_tokens = 100\n"
    )
    good = good_feedback(THRESHOLD, KNN_MORPHO)
    agent = str(resolve("penguins", None).reference_agent)
    with FakeLLM(lambda body, n: good(body)) as llm:
        done = sia(
            "evolve",
            "--accept",  # the scripted edits gain a few items: below the paired test
            "1",
            "--stage",  # both candidates scored whole: the test compares them on all of dev
            "0",
            "--task",
            "penguins",
            "--agent",
            agent,
            "--model",
            "priced",
            "--api-base",
            llm.api_base,
            "--candidates",
            "1",
            "--confirm-runs",
            "0",
            "--max-gen",
            "5",
            "--budget-usd",
            "0.0042",
            cwd=repo,
        )
    assert done.returncode == 0, done.stderr
    assert "stopping: budget $0.0042 reached" in done.stdout
    [run_id] = run_ids(repo)
    log = json.loads(sia("log", "--json", cwd=repo).stdout)
    assert log["total_cost_usd"] <= 0.0042
    # Gen 2: six calls ($0.003). Gen 3: one call fits ($0.0035), the next could pass $0.004.
    assert log["total_cost_usd"] == pytest.approx(0.0035)
    assert list(log["stops"]) == ["3"] and "budget" in log["stops"]["3"]
    assert attempt(repo, run_id, 3)["candidates"][0]["status"] == "budget-stopped"
    assert "stopped after generation 3" in sia("log", cwd=repo).stdout

    with FakeLLM(lambda body, n: good(body)) as llm:
        again = sia(
            "evolve", "--run", run_id, "--api-base", llm.api_base, "--budget-usd", "0.02", cwd=repo
        )
    assert again.returncode == 0, again.stderr
    assert "$0.0035 spent so far" in again.stdout
    assert {4, 5} <= {
        int(g)
        for g in re.findall(
            r"attempts/g(\d+)", git(repo, "for-each-ref", f"refs/sia/{run_id}/attempts/")
        )
    }
    assert json.loads(sia("log", "--json", cwd=repo).stdout)["total_cost_usd"] <= 0.02


def test_no_secret_from_the_environment_is_stored_anywhere(repo: Path, sia: Runner) -> None:
    secrets = {
        "SIA_PROVIDER": "provider-secret-value-6d1f0a",  # named by --api-key-env
        "MY_SERVICE_TOKEN": "tok-9f8e7d6c5b4a-service",
        "OPENAI_API_KEY": "sk-proj-abcdefghijklmnopqrstuvwx123456",
    }

    def script(body: dict[str, Any], n: int) -> Reply:
        # A model that leaks every secret it could know into what sia-git stores.
        leak = " ".join(secrets.values())
        if role(body) == "meta":
            return code_reply(REFERENCE.replace('"""Reference agent', f'"""{leak}\nAgent', 1))
        steps = [
            tool("read_agent_file"),
            tool("edit_agent_file", search=THRESHOLD, replace=KNN_MORPHO),
            finish(diagnosis=f"keys: {leak}", subject=f"leak {secrets['OPENAI_API_KEY']}"),
        ]
        return steps[min(turn(body), 2)]

    with FakeLLM(script) as llm:
        done = evolve(
            sia,
            repo,
            llm,
            "--max-gen",
            "2",
            "--api-key-env",
            "SIA_PROVIDER",
            "--target-model",
            MODEL,
            "--target-api-base",
            llm.api_base,
            env=secrets,
        )
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    assert trailers(repo, f"sia/{run_id}")["Sia-Generation"] == "2"
    everything = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout
    everything += git(repo, "for-each-ref").encode()
    everything += git(repo, "log", "--all", "--format=%B%N", "--notes=refs/notes/sia").encode()
    for path in (repo / ".git").rglob("*"):
        if path.is_file() and "objects" not in path.parts:
            everything += path.read_bytes()
    for name, value in secrets.items():
        assert value.encode() not in everything, f"{name}'s value is stored in the repo"
    assert b"[REDACTED]" in everything  # the leaks were there, and masked


def test_candidates_are_written_concurrently_and_the_best_on_dev_is_kept(
    repo: Path, sia: Runner
) -> None:
    both_asking = threading.Barrier(2, timeout=30)  # breaks unless two agents ask at once
    better = good_feedback(THRESHOLD, KNN_MORPHO)  # dev 0.725
    worse = good_feedback('"model": "threshold",', '"model": "majority",')  # dev 0.5125

    def script(body: dict[str, Any], n: int) -> Reply:
        index = int(re.search(r"candidate (\d) of 2", body["messages"][0]["content"]).group(1))
        if turn(body) == 0:
            both_asking.wait()
        return (better if index == 2 else worse)(body)

    with FakeLLM(script) as llm:
        done = sia(
            "evolve",
            "--accept",  # the scripted edits gain a few items: below the paired test
            "1",
            "--stage",  # both candidates scored whole: the test compares them on all of dev
            "0",
            "--task",
            "penguins",
            "--model",
            MODEL,
            "--api-base",
            llm.api_base,
            "--agent",
            str(resolve("penguins", None).reference_agent),
            "--candidates",
            "2",
            "--workers",
            "2",
            "--max-gen",
            "2",
            cwd=repo,
        )
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    record = attempt(repo, run_id, 2)
    assert record["accepted"] == 2
    scores = {c["candidate"]: c["scores"]["dev"] for c in record["candidates"]}
    assert scores[2] > scores[1]
    assert "not the best candidate" in record["candidates"][0]["verdict"]
    assert all(c["cost_usd"] > 0 and c["model"] == MODEL for c in record["candidates"])


GATEWAY_AGENT = REFERENCE.replace(
    'if __name__ == "__main__":',
    """def ask_model() -> None:
    import sia_gateway

    for word in ("delightful", "dreadful", "bland"):
        sia_gateway.chat(f"Is '{word}' positive?", max_tokens=8)


if __name__ == "__main__":
    ask_model()""",
)


def test_a_target_agent_reaches_its_model_through_the_gateway_and_every_call_is_stored(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    assert GATEWAY_AGENT != REFERENCE
    agent = tmp_path / "agent.py"
    agent.write_text(GATEWAY_AGENT)
    key = "sk-target-key-for-the-gateway-0123"
    with FakeLLM(lambda body, n: text("yes")) as llm:
        done = sia(
            "evolve",
            "--accept",  # the scripted edits gain a few items: below the paired test
            "1",
            "--stage",  # both candidates scored whole: the test compares them on all of dev
            "0",
            "--task",
            "penguins",
            "--agent",
            str(agent),
            "--max-gen",
            "1",
            "--target-model",
            MODEL,
            "--target-api-base",
            llm.api_base,
            "--target-api-key-env",
            "SIA_TARGET_KEY",
            cwd=repo,
            env={"SIA_TARGET_KEY": key},
        )
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    log = [json.loads(line) for line in blob(repo, run_id, 1, "c0/gateway.jsonl").splitlines()]
    assert [(e["status"], e["reply"]) for e in log] == [(200, "yes")] * 3
    assert "dreadful" in log[1]["request"]["messages"]
    assert {h.get("Authorization") or h.get("authorization") for h in llm.headers} == {
        f"Bearer {key}"
    }
    assert float(trailers(repo, f"sia/{run_id}")["Sia-Cost-USD"]) == pytest.approx(3 * 0.000045)


def test_a_gate_failure_is_kept_with_its_report_and_the_next_feedback_agent_sees_it(
    repo: Path, sia: Runner
) -> None:
    sneaky = good_feedback("import argparse\n", "import argparse\nimport subprocess\n")
    looks = [
        tool("gate_report", generation=2, candidate=1),
        tool("read_agent_file"),
        tool("edit_agent_file", search=THRESHOLD, replace=KNN_MORPHO),
        finish(),
    ]

    def script(body: dict[str, Any], n: int) -> Reply:
        if generation(body) == 2:
            return sneaky(body)
        return looks[min(turn(body), len(looks) - 1)]

    with FakeLLM(script) as llm:
        done = evolve(
            sia,
            repo,
            llm,
            "--agent",
            str(resolve("penguins", None).reference_agent),
            "--max-gen",
            "3",
        )
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    rejected = f"refs/sia/{run_id}/rejected/g0002-c1"
    t = trailers(repo, rejected)
    assert t["Sia-Gates"] == "ruff=pass bandit=pass semgrep=fail secrets=pass"
    assert t["Sia-Rejected"].startswith("gate-failed: semgrep:")
    gates = attempt(repo, run_id, 2)["candidates"][0]["gates"]
    assert "sia-subprocess" in gates["semgrep"]["report"]
    shown = [m["content"] for m in llm.requests[-1]["messages"] if m["role"] == "tool"]
    assert any("gate semgrep: FAIL" in s and "sia-subprocess" in s for s in shown), shown
    assert attempt(repo, run_id, 3)["accepted"] == 1


def test_ctrl_c_during_a_slow_model_call_exits_at_once_and_resumes(repo: Path, sia: Runner) -> None:
    import signal
    import sys
    import time

    asked = threading.Event()

    def slow(body: dict[str, Any], n: int) -> Reply:
        asked.set()
        return Reply(content="too late", delay_s=90)

    with FakeLLM(slow) as llm:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sia_git",
                "evolve",
                "--accept",  # the scripted edit gains a few items: below the paired test
                "1",
                "--task",
                "penguins",
                "--model",
                MODEL,
                "--api-base",
                llm.api_base,
                "--agent",
                str(resolve("penguins", None).reference_agent),
                "--max-gen",
                "3",
                "--model-timeout",
                "60",
            ],
            cwd=repo,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert asked.wait(120), "the Feedback-Agent never called the model"
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        waited = time.monotonic() - start
    [run_id] = run_ids(repo)
    assert proc.returncode == 130
    assert f"`sia-git evolve --run {run_id}` resumes the run" in err
    assert waited < 45, f"Ctrl-C waited {waited:.0f} s for the 90 s model call in flight"
    assert fsck_clean(repo)
    good = good_feedback(THRESHOLD, KNN_MORPHO)
    with FakeLLM(lambda body, n: good(body)) as llm:
        again = sia("evolve", "--run", run_id, "--api-base", llm.api_base, cwd=repo)
    assert again.returncode == 0, again.stderr
    assert attempt(repo, run_id, 2)["accepted"] == 1


def test_a_model_without_tool_calls_edits_through_the_text_protocol(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    """A server that never returns tool calls (many local models): litellm does not know the
    model to take tools, so the Feedback-Agent reads the run through the text menu and its
    search/replace block is accepted as generation 2, with transcript and trailers."""
    majority = tmp_path / "majority.py"
    majority.write_text(MAJORITY_AGENT)
    replies = [
        'Let me look first.\nTOOL list_generations\nTOOL eval_summary {"generation": 1}\n',
        "The majority model ignores the features.\n\n```python\ntarget_agent.py\n"
        '<<<<<<< SEARCH\n    "model": "majority",\n=======\n    "model": "threshold",\n'
        ">>>>>>> REPLACE\n```\n\nFINISH "
        + json.dumps(
            {
                "subject": "use the threshold model",
                "diagnosis": "majority ignores mass",
                "hypothesis": "a threshold on mass separates the sexes",
                "change": "model: majority -> threshold",
                "lever": "harness",
                "lever_reason": "the model choice is code",
            }
        ),
    ]
    seen: list[dict[str, Any]] = []

    def script(body: dict[str, Any], n: int) -> Reply:
        seen.append(body)
        return text(replies[min(turn(body), len(replies) - 1)])

    with FakeLLM(script) as llm:
        done = sia("evolve", "--task", "penguins", "--model", "openai/local-small-model",
                   "--api-base", llm.api_base, "--agent", str(majority), "--candidates", "1",
                   "--confirm-runs", "0", "--max-gen", "2", cwd=repo)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    assert "(edits by tools, else text)" in done.stdout  # litellm does not know the model
    start = done.stdout.splitlines()[0]
    assert "proposer openai/local-small-model" in start and "target model none" in start
    assert all("tools" not in body for body in seen[1:])  # text from the first reply on
    shown = sia("log", cwd=repo).stdout
    assert "model" in shown.splitlines()[1] and "openai/local-small-model" in shown
    assert json.loads(sia("log", "--json", cwd=repo).stdout)["rows"][-1]["model"] == (
        "openai/local-small-model"
    )
    [run_id] = run_ids(repo)
    gen1, gen2 = git(repo, "rev-list", "--reverse", f"refs/sia/{run_id}/base..sia/{run_id}").split()
    t2 = trailers(repo, gen2)
    assert t2["Sia-Generation"] == "2" and t2["Sia-Lever"] == "harness"
    assert t2["Sia-Model"] == "openai/local-small-model"
    assert float(t2["Sia-Score"]) > float(trailers(repo, gen1)["Sia-Score"])
    assert '+    "model": "threshold",' in git(repo, "show", gen2)
    transcript = json.loads(git(repo, "show", t2["Sia-Transcript"]))
    users = [m["content"] for m in transcript["messages"] if m["role"] == "user"]
    assert "## How to act" in users[1] and "TOOL list_generations" in users[1]
    assert users[2].startswith("TOOL list_generations:\n") and "TOOL eval_summary:" in users[2]
    assert "switched to the text edit protocol" in transcript["events"][0]
    assert transcript["outcome"] == "finished"


def test_one_python_fence_with_a_whole_agent_is_a_scored_rewrite_under_allow_rewrite(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    """A model that answers every question with one fenced Python block holding a whole, better
    agent (no FILE line, no FINISH, as many models answer): under --allow-rewrite it is taken as a
    rewrite of target_agent.py, passes the same checks, is scored and becomes generation 2.
    Without --allow-rewrite the same reply is not applied, and the model is shown an example of a
    correct reply once."""
    majority = tmp_path / "majority.py"
    majority.write_text(MAJORITY_AGENT)
    better = f"Here is a better agent:\n\n```python\n{REFERENCE}```\n"
    seen: list[dict[str, Any]] = []

    def script(body: dict[str, Any], n: int) -> Reply:
        seen.append(body)
        return text(better)

    flags = ("--model", "openai/local-small-model", "--agent", str(majority), "--candidates",
             "1", "--confirm-runs", "0", "--max-gen", "2", "--lever", "harness")  # fmt: skip
    with FakeLLM(script) as llm:
        done = sia("evolve", "--task", "penguins", "--api-base", llm.api_base, *flags,
                   "--allow-rewrite", cwd=repo)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    [cand] = attempt(repo, run_id, 2)["candidates"]
    assert cand["status"] == "ok" and cand["scores"]["dev"] is not None, cand
    gen1, gen2 = git(repo, "rev-list", "--reverse", f"refs/sia/{run_id}/base..sia/{run_id}").split()
    t2 = trailers(repo, gen2)
    assert t2["Sia-Lever"] == "harness" and "whole agent" in git(
        repo, "log", "-1", "--format=%s", gen2
    )
    assert float(t2["Sia-Score"]) > float(trailers(repo, gen1)["Sia-Score"])
    transcript = json.loads(git(repo, "show", t2["Sia-Transcript"]))
    assert "a whole agent in one fence: taken as a rewrite" in transcript["events"]

    strict = make_repo(tmp_path / "strict")
    seen.clear()
    with FakeLLM(script) as llm:
        done = sia("evolve", "--task", "penguins", "--api-base", llm.api_base, *flags,
                   cwd=strict)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(strict)
    [cand] = attempt(strict, run_id, 2)["candidates"][:1]
    assert cand["status"] == "model-failed", cand
    shown = [m["content"] for b in seen for m in b["messages"] if m["role"] == "user"]
    assert any("for example:" in c and "<<<<<<< SEARCH" in c for c in shown)


def test_when_every_model_candidate_fails_the_same_way_the_offline_search_steps_in(
    repo: Path, sia: Runner
) -> None:
    """A model that never calls a tool nor writes the text protocol (a refusal, every time):
    said once, and the generation's candidates come from the offline search, recorded so."""
    with FakeLLM(lambda body, n: text("I'm sorry, but I can't help with that.")) as llm:
        done = evolve(
            sia, repo, llm, "--agent", str(resolve("penguins", None).reference_agent),
            "--max-gen", "2", "--feedback-turns", "4",
        )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    assert done.stdout.count("every model candidate failed the same way") == 2
    assert "the model fills knob forms instead" in done.stdout
    [run_id] = run_ids(repo)
    cands = attempt(repo, run_id, 2)["candidates"]
    assert cands[0]["status"] == "model-failed" and "does not call the tools" in cands[0]["reason"]
    assert cands[1]["status"] == "model-failed" and "knob form" in cands[1]["reason"]
    assert len(cands) == 3 and cands[2]["lever"] == "knobs" and cands[2]["status"] == "ok"


def test_a_model_that_cannot_edit_code_fills_knob_forms_under_the_schema(
    repo: Path, sia: Runner
) -> None:
    """A model that fails every code edit but answers a structured request (its profile says the
    server enforces JSON schemas): the failed generation gets knob-form candidates from the
    model, scored and recorded as the model's, and later generations ask for forms at once. The
    request carried the knob schema built from KNOB_SPACE."""
    (repo / "sia-git.toml").write_text(
        '[profiles.small]\nmodel = "openai/small-model"\nstructured_output = true\n'
    )
    forms: list[dict[str, Any]] = []

    def script(body: dict[str, Any], n: int) -> Reply:
        if body.get("response_format"):
            forms.append(body["response_format"])
            k = 3 + len(forms)
            changes = [{"knob": "model", "value": "knn"}, {"knob": "features", "value": "morpho"},
                       {"knob": "k", "value": k}]  # fmt: skip
            hypothesis = f"{k} neighbours on the body shape"
            return text(json.dumps({"changes": changes, "hypothesis": hypothesis}))
        return text("I'm sorry, but I can't help with that.")

    with FakeLLM(script) as llm:
        done = sia("evolve", "--task", "penguins", "--model", "small", "--api-base",
                   llm.api_base, "--agent", str(resolve("penguins", None).reference_agent),
                   "--candidates", "1", "--confirm-runs", "0", "--max-gen", "3",
                   "--feedback-turns", "4", cwd=repo)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    assert "the model fills knob forms instead" in done.stdout
    assert "gen 3: the model fills knob forms (its code edits failed" in done.stdout
    schema = forms[0]["json_schema"]["schema"]
    options = schema["properties"]["changes"]["items"]["anyOf"]
    model = next(o for o in options if o["properties"]["knob"]["const"] == "model")
    assert "threshold" not in model["properties"]["value"]["enum"]  # the current value: no change
    assert "hypothesis" in schema["required"]
    [run_id] = run_ids(repo)
    gen2 = attempt(repo, run_id, 2)["candidates"]
    assert [c["status"] for c in gen2] == ["model-failed", "ok"], gen2
    assert gen2[1]["lever"] == "knobs" and gen2[1]["model"] == "openai/small-model"
    assert "knobs (form)" in gen2[1]["subject"]
    gen3 = attempt(repo, run_id, 3)["candidates"]
    assert [c["status"] for c in gen3] == ["ok"] and gen3[0]["model"] == "openai/small-model"
    # log and the report give the share of the model's candidates that reached the evaluator.
    said = "model openai/small-model: 2 of 3 candidates reached the evaluator (67%)"
    assert said in sia("log", cwd=repo).stdout
    shares = json.loads(sia("log", "--json", cwd=repo).stdout)["models"]
    assert shares == {"openai/small-model": {"candidates": 3, "reached_evaluator": 2}}
    page = repo.parent / "report.html"
    assert sia("report", run_id, "--out", str(page), cwd=repo).returncode == 0
    assert "2 of 3 candidates reached the evaluator" in page.read_text()


def test_a_server_counting_more_prompt_tokens_still_ends_the_run_within_its_budget(
    repo: Path, sia: Runner
) -> None:
    """The server counts every prompt 22% above litellm's estimate (another chat template):
    the run stops at or under --budget-usd, and what it spent is in the repository."""
    from sia_git.llm.client import count_tokens

    (repo / "sia-git.toml").write_text(
        '[profiles.priced]\nmodel = "openai/house-model"\ninput_cost_per_token = 0.000001\n'
        "output_cost_per_token = 0.0\nmax_tokens = 100\n"
    )
    good = good_feedback(THRESHOLD, KNN_MORPHO)

    def script(body: dict[str, Any], n: int) -> Reply:
        reply = good(body)
        reply.prompt_tokens = int(1.22 * count_tokens("openai/house-model", body["messages"]))
        return reply

    with FakeLLM(script) as llm:
        done = sia("evolve", "--task", "penguins", "--agent",
                   str(resolve("penguins", None).reference_agent), "--model", "priced",
                   "--api-base", llm.api_base, "--candidates", "1", "--confirm-runs", "0",
                   "--max-gen", "6", "--budget-usd", "0.02", cwd=repo)  # fmt: skip
    assert done.returncode == 0, done.stderr
    log = json.loads(sia("log", "--json", cwd=repo).stdout)
    assert 0 < log["total_cost_usd"] <= 0.02
    assert "budget" in done.stdout


def test_a_budget_spent_by_the_meta_agent_is_recorded_and_the_run_resumes(
    repo: Path, sia: Runner
) -> None:
    """The Meta-Agent's first reply holds no agent and the budget refuses its second call:
    generation 1 is still written (the reference agent) with what was spent, so the run exists,
    its spend is in the repository, and `evolve --run` with more budget goes on from it."""
    (repo / "sia-git.toml").write_text(
        '[profiles.priced]\nmodel = "openai/house-model"\ninput_cost_per_token = 0.0\n'
        "output_cost_per_token = 0.00001\nmax_tokens = 100\n"
    )
    with FakeLLM(lambda body, n: text("I would rather not write code.")) as llm:
        done = sia("evolve", "--task", "penguins", "--model", "priced", "--api-base",
                   llm.api_base, "--candidates", "1", "--confirm-runs", "0", "--max-gen", "3",
                   "--budget-usd", "0.0015", cwd=repo)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "budget ran out while the Meta-Agent wrote generation 1" in done.stdout
    [run_id] = run_ids(repo)
    log = json.loads(sia("log", "--json", cwd=repo).stdout)
    # Two replies of 50 tokens fit ($0.001); a third could pass $0.0015 and is not made.
    assert log["total_cost_usd"] == pytest.approx(0.001)
    assert [r["gen"] for r in log["rows"]] == [1]

    good = good_feedback(THRESHOLD, KNN_MORPHO)
    with FakeLLM(lambda body, n: good(body)) as llm:
        again = sia("evolve", "--run", run_id, "--api-base", llm.api_base, "--budget-usd",
                    "0.05", "--max-gen", "2", cwd=repo)  # fmt: skip
    assert again.returncode == 0, again.stderr
    log = json.loads(sia("log", "--json", cwd=repo).stdout)
    assert [r["gen"] for r in log["rows"]] == [1, 2]
    assert log["total_cost_usd"] > 0.001
