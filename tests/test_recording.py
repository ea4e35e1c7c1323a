"""evolve/recording/: what a generation writes. A candidate's record carries its verdict,
scores, gates, run and proposal, and no per-item result of a sealed split; its commit message
carries the trailers `git interpret-trailers` reads; the attempt record holds every candidate;
a generation is one ref transaction (the branch, the rejected refs and the record)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sia_git.evolve.outcome import Outcome
from sia_git.evolve.recording.build import Facts, attempt_record, message, outcome_record
from sia_git.evolve.recording.primitives import Publication, attempt_tree, publish
from sia_git.gates import GateResult
from sia_git.gitrepo import open_repo
from sia_git.levers.proposal import Improvement, Proposal
from sia_git.sandbox.spec import RunResult
from sia_git.store import refs
from sia_git.store.records import Status
from sia_git.tasks.evaluation import Evaluation, SplitScore
from sia_git.tasks.task import resolve

TASK = resolve("penguins", None)
FILES = {"target_agent.py": b"print(1)\n"}


def candidate(index: int = 1, dev: float = 0.75) -> Outcome:
    p = Proposal(lever="knobs", files=FILES, improvement=Improvement("knobs k 5→7", "Why.\n"),
                 knobs={"k": 7}, model="m", lever_reason="cheap", train={"r": 8})  # fmt: skip
    o = Outcome(index, p, FILES, Status.OK, cost_usd=0.123456789)
    items = [{"id": "a", "status": "correct"}, {"id": "b", "status": "wrong"}]
    o.evaluation = Evaluation(
        {"dev": SplitScore(dev, {"items": 2}, items), "test": SplitScore(0.7)},
        [f"x{i}.txt (symlink)" for i in range(30)],
    )
    o.gates = [GateResult("ruff", True, ""), GateResult("semgrep", False, "sia-network: x")]
    o.run = RunResult("bwrap", 0, False, 1.23456, "", "", 2)
    o.gateway_calls, o.adapter, o.traces_dropped = 4, "sha256:" + "a" * 64, 3
    return o


def test_a_candidates_record_holds_what_happened_to_it() -> None:
    rec = outcome_record(candidate(), "c" * 40, "accepted")
    assert rec.candidate == 1 and rec.commit == "c" * 40 and rec.verdict == "accepted"
    assert rec.status == Status.OK and rec.lever == "knobs" and rec.subject == "knobs k 5→7"
    assert rec.knobs == {"k": 7} and rec.train == {"r": 8} and rec.model == "m"
    assert rec.lever_reason == "cheap" and rec.gateway_calls == 4 and rec.traces_dropped == 3
    assert rec.scores == {"dev": 0.75, "test": 0.7}
    assert not rec.gates["semgrep"].passed and rec.gates["semgrep"].report == "sia-network: x"
    assert rec.run is not None and rec.run["duration_s"] == 1.235 and rec.run["where"] == "here"
    assert rec.run["leftover_processes_killed"] == 2 and rec.run["backend"] == "bwrap"
    assert len(rec.dropped_outputs) == 20 and rec.dropped_outputs_count == 30
    assert rec.cost_usd == 0.12345679 and rec.adapter == "sha256:" + "a" * 64
    assert rec.items == {"dev": [{"id": "a", "status": "correct"}, {"id": "b", "status": "wrong"}]}


def test_a_failed_candidate_has_no_scores_and_the_harness_lever() -> None:
    o = Outcome(2, None, FILES, Status.CRASHED, reason="exit code 1")
    rec = outcome_record(o)
    assert rec.scores == {} and rec.items == {} and rec.lever == "harness" and rec.run is None
    assert rec.reason == "exit code 1" and rec.commit is None and rec.verdict == ""
    assert rec.status == "crashed" and rec.dropped_outputs == [] and rec.dropped_outputs_count == 0


def test_the_commit_message_carries_the_trailers() -> None:
    facts = Facts(run_id="r1", gen=3, parent_gen=2, task=TASK, subject="knobs k 5→7",
                  improvement=Improvement("knobs k 5→7", "The body.\n"),
                  extra=[("Sia-Candidate", "1/2")], model="m")  # fmt: skip
    text = message(candidate(), facts)
    assert text.startswith("gen 3: knobs k 5→7\n\nThe body.\n\n")
    parsed = subprocess.run(["git", "interpret-trailers", "--parse"], input=text, text=True,
                            capture_output=True, check=True).stdout  # fmt: skip
    for line in ("Sia-Run: r1", "Sia-Generation: 3", "Sia-Parent: 2", "Sia-Lever: knobs",
                 "Sia-Score: 0.75", "Sia-Score-Test: 0.7", "Sia-Model: m",
                 "Sia-Cost-USD: 0.123457", "Sia-Gates: ruff=pass semgrep=fail",
                 'Sia-Knobs: {"k":7}', "Sia-Candidate: 1/2",
                 "Sia-Metric: accuracy (higher is better, split dev, test sealed)"):  # fmt: skip
        assert line in parsed, (line, parsed)
    first = Facts(run_id="r1", gen=1, parent_gen=None, task=TASK, subject="s",
                  improvement=Improvement("s", ""))  # fmt: skip
    assert "Sia-Parent: none" in message(candidate(), first)
    assert "Sia-Model: none" in message(candidate(), first)


def test_the_attempt_record_has_every_candidate_and_its_verdict() -> None:
    outs = [candidate(1, 0.8), candidate(2, 0.6)]
    rec = attempt_record(run_id="r", gen=4, select="dev", incumbent=0.7, outcomes=outs,
                         accepted=1, commits={1: "a" * 40, 2: "b" * 40},
                         reasons={2: "not the best"})  # fmt: skip
    assert rec.run == "r" and rec.generation == 4 and rec.incumbent_score == 0.7
    assert rec.accepted == 1 and rec.select_split == "dev"
    assert [(c.candidate, c.verdict, c.commit) for c in rec.candidates] == [
        (1, "accepted", "a" * 40),
        (2, "not the best", "b" * 40),
    ]


def test_a_generation_is_one_transaction(tmp_path: Path) -> None:
    repo_dir = tmp_path / "r"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo_dir)], check=True)
    subprocess.run(["git", "-C", str(repo_dir), "-c", "user.name=a", "-c", "user.email=a@b",
                    "commit", "-q", "--allow-empty", "-m", "start"], check=True)  # fmt: skip
    repo = open_repo(repo_dir)
    base = repo.rev_parse("HEAD")
    outs = [candidate(1), candidate(2)]
    commits = {o.index: repo.commit(repo.make_tree(base, {"f": b"x"}), [base], f"c{o.index}")
               for o in outs}  # fmt: skip
    rec = attempt_record(run_id="r", gen=2, select="dev", incumbent=None, outcomes=outs,
                         accepted=2, commits=commits, reasons={1: "worse"})  # fmt: skip
    publish(repo, Publication(run_id="r", gen=2, commits=commits, accepted=2, branch_old=None,
                              record=rec, record_tree=attempt_tree(repo, rec, outs)))  # fmt: skip
    assert repo.rev_parse("refs/heads/sia/r") == commits[2]
    assert repo.rev_parse(refs.rejected("r", 2, 1)) == commits[1]
    assert repo.rev_parse(refs.rejected("r", 2, 2)) is None
    record = repo.read_file(refs.attempts("r", 2), "attempt.json") or ""
    assert '"accepted": 2' in record and "worse" in record


def test_a_message_without_a_proposal_gates_or_knobs_and_a_lower_is_better_metric() -> None:
    """The reference agent's commit: lever harness, no gates run, no knobs; a minimize metric
    says lower is better; a declared extra sealed split is named by its own trailer."""
    from types import SimpleNamespace

    o = Outcome(0, None, FILES, Status.OK)
    o.evaluation = Evaluation({"dev": SplitScore(2.5), "hard": SplitScore(3.0)}, [])
    metric = SimpleNamespace(name="rmse", direction="minimize")
    plan = SimpleNamespace(metric_note=lambda: "split dev, hard sealed")
    task = SimpleNamespace(manifest=SimpleNamespace(metric=metric), select="dev",
                           splits=["dev", "hard"], plan=plan)  # fmt: skip
    facts = Facts(run_id="r", gen=1, parent_gen=None, task=task, subject="s",
                  improvement=Improvement("s", ""))  # type: ignore[arg-type]  # fmt: skip
    text = message(o, facts)
    assert "Sia-Lever: harness" in text and "Sia-Gates: none" in text
    assert "Sia-Metric: rmse (lower is better, split dev, hard sealed)" in text
    assert "Sia-Score-hard: 3" in text and "Sia-Knobs" not in text
    rec = outcome_record(o)
    assert rec.run is None and rec.metrics == {"dev": {}, "hard": {}} and rec.knobs is None


def test_a_runs_sandbox_facts_are_recorded_by_name() -> None:
    o = candidate()
    o.run = RunResult("bwrap", 3, True, 2.0, "", "", 0, where="node-2")
    rec = outcome_record(o)
    assert rec.run == {"backend": "bwrap", "exit_code": 3, "timed_out": True, "duration_s": 2.0,
                       "leftover_processes_killed": 0, "where": "node-2"}  # fmt: skip
    assert rec.metrics == {"dev": {"items": 2}, "test": {}}
    assert rec.items["dev"][1] == {"id": "b", "status": "wrong"}
