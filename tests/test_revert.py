"""`sia-git revert GEN`: a revert commit with trailers, followed by `log` and the next
generation; the refusals are one line each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Runner, git, run_ids
from tests.test_evolve import branch_commits, trailers

pytestmark = pytest.mark.slow


def test_revert_of_the_tip_is_a_commit_the_run_continues_from(repo: Path, sia: Runner) -> None:
    assert (
        sia(
            "evolve",
            "--accept",
            "1",
            "--task",
            "penguins",
            "--max-gen",
            "3",
            "--confirm-runs",
            "0",
            cwd=repo,
        ).returncode
        == 0
    )
    [run_id] = run_ids(repo)
    commits = branch_commits(repo, run_id)
    tip = commits[-1]
    gen = int(trailers(repo, tip)["Sia-Generation"])
    assert gen > 1
    parent_score = trailers(repo, f"{tip}^")["Sia-Score"]
    done = sia("revert", str(gen), "--reason", "overfits the dev split", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert f"gen {gen}: reverted by" in done.stdout
    revert = git(repo, "rev-parse", f"sia/{run_id}").strip()
    t = trailers(repo, revert)
    assert t["Sia-Reverts"] == tip and t["Sia-Reason"] == "overfits the dev split"
    assert t["Sia-Score"] == parent_score
    assert git(repo, "diff", f"{tip}^", revert, "--stat") == ""  # back to the parent's tree

    rows = json.loads(sia("log", "--json", cwd=repo).stdout)["rows"]
    assert {r["commit"]: r["status"] for r in rows}[tip] == "reverted"
    again = sia("revert", str(gen), cwd=repo)
    assert again.returncode != 0 and "is already reverted" in again.stderr
    assert "generation 1 is the run's starting point" in sia("revert", "1", cwd=repo).stderr
    assert "has no generation 9" in sia("revert", "9", cwd=repo).stderr

    done = sia("evolve", "--run", run_id, "--max-gen", "4", "--confirm-runs", "0", cwd=repo)
    assert done.returncode == 0, done.stderr
    later = [
        c for c in branch_commits(repo, run_id) if trailers(repo, c).get("Sia-Generation") == "4"
    ]
    rejected = git(
        repo, "for-each-ref", "--format=%(objectname)", f"refs/sia/{run_id}/rejected/g0004-*"
    ).split()
    for cand in later + rejected:
        assert git(repo, "rev-parse", f"{cand}^").strip() == revert


def test_a_run_goes_on_after_a_person_commits_onto_its_branch(repo: Path, sia: Runner) -> None:
    assert (
        sia(
            "evolve",
            "--accept",
            "1",
            "--task",
            "penguins",
            "--max-gen",
            "2",
            "--confirm-runs",
            "0",
            cwd=repo,
        ).returncode
        == 0
    )
    [run_id] = run_ids(repo)
    worktree = repo / ".git" / "sia" / "worktrees" / run_id
    agent = worktree / "sia-agent" / "agent" / "target_agent.py"
    agent.write_text(agent.read_text() + "\n# reviewed by a person\n")
    git(worktree, "commit", "-qam", "a person's review note")
    theirs = git(worktree, "rev-parse", "HEAD").strip()
    done = sia("evolve", "--run", run_id, "--max-gen", "3", "--confirm-runs", "0", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "re-scored the branch tip as the baseline" in done.stdout
    rows = json.loads(sia("log", "--json", cwd=repo).stdout)["rows"]
    assert any(r["commit"] == theirs for r in rows)
    cands = [
        c for c in branch_commits(repo, run_id) if trailers(repo, c).get("Sia-Generation") == "3"
    ]
    cands += git(
        repo, "for-each-ref", "--format=%(objectname)", f"refs/sia/{run_id}/rejected/g0003-*"
    ).split()
    assert cands and all(git(repo, "rev-parse", f"{c}^").strip() == theirs for c in cands)
    assert all(
        "# reviewed by a person" in git(repo, "show", f"{c}:sia-agent/agent/target_agent.py")
        for c in cands
    )


def test_knob_generations_revert_on_their_values_and_every_revert_states_its_score(
    repo: Path, sia: Runner
) -> None:
    """With the knob search later generations may set the same knob again, and a plain `git
    revert` of an older one then conflicts: the revert is computed on the knob values instead
    (what later generations changed stays). Reverting the tip and then the one before brings the
    branch back to an earlier generation, and each revert commit says that score."""
    done = sia(
        "evolve",
        "--accept",
        "1",
        "--task",
        "penguins",
        "--max-gen",
        "8",
        "--confirm-runs",
        "0",
        "--stage",  # every candidate scored whole; seed 4 climbs in three accepted steps
        "0",
        "--seed",
        "4",
        cwd=repo,
    )
    assert done.returncode == 0, done.stderr
    [run_id] = run_ids(repo)
    gens = [
        (int(t["Sia-Generation"]), c, t)
        for c in branch_commits(repo, run_id)
        if "Sia-Generation" in (t := trailers(repo, c))
    ]
    assert len(gens) >= 3, "the (seeded) search accepts at least two generations here"
    (ga, ca, _), (gb, cb, _) = gens[-2], gens[-1]
    agent = "sia-agent/agent/target_agent.py"
    # The older one first: a plain revert would conflict on the KNOBS lines.
    done = sia("revert", str(ga), "--run", run_id, cwd=repo)
    assert done.returncode == 0, done.stderr
    tip = git(repo, "rev-parse", f"sia/{run_id}").strip()
    assert trailers(repo, tip)["Sia-Reverts"] == ca
    assert trailers(repo, tip)["Sia-Score"] == "none"  # gb still stands: unknown until rescored
    assert "KNOBS" in git(repo, "show", f"{tip}:{agent}")
    changed_by_b = git(repo, "diff", ca, cb, "--", agent)
    assert all(line in git(repo, "show", f"{tip}:{agent}") for line in (
        line[1:] for line in changed_by_b.splitlines() if line.startswith("+ ") or
        line.startswith('+    "')))  # fmt: skip
    # Now the tip: nothing after ga and gb stands, so the branch is back to what came before.
    done = sia("revert", str(gb), "--run", run_id, cwd=repo)
    assert done.returncode == 0, done.stderr
    back = trailers(repo, git(repo, "rev-parse", f"sia/{run_id}").strip())["Sia-Score"]
    before_a = [t for g, _, t in gens if g < ga][-1]["Sia-Score"]
    assert back == before_a and back != "none"
