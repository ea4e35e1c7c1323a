"""Fault injection: `evolve` is SIGKILLed (its whole process group, as a power cut or the OOM
killer would) at each phase of a generation, through SIA_GIT_FAULT (sia_git/faults.py), then run
again. Every time: the repository is consistent, no lock blocks the resume, nothing of the
killed process is left running, no generation is lost or recorded twice, and the run finishes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sia_git.store.lock import RunLock
from tests.conftest import GIT_ENV, git, run_ids
from tests.test_evolve import NOISY, SIA_TASK, branch_commits, trailers

pytestmark = pytest.mark.slow

# phase -> which occurrence to kill at (all in generation 2 or later, so the run exists).
PHASES = {
    "proposing": 1,
    "training": 1,
    "gating": 3,
    "running": 3,
    "evaluating": 3,
    "committing": 2,
    "notes": 2,
    "reverting": 1,
}


def evolve(repo: Path, *args: str, fault: str | None = None, tmp: Path | None = None) -> int:
    env = {**os.environ, **GIT_ENV, **({"TMPDIR": str(tmp)} if tmp else {})}
    env.pop("SIA_GIT_FAULT", None)
    if fault:
        env["SIA_GIT_FAULT"] = fault
    proc = subprocess.Popen(
        [sys.executable, "-m", "sia_git", "evolve", *args],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    _, err = proc.communicate(timeout=600)
    assert fault or proc.returncode == 0, err.decode()
    return proc.returncode


def consistent(repo: Path, run_id: str) -> None:
    fsck = subprocess.run(["git", "fsck", "--strict"], cwd=repo, capture_output=True, text=True)
    assert fsck.returncode == 0 and "error" not in fsck.stderr, fsck.stderr
    assert RunLock.holder(repo / ".git" / "sia" / "locks", run_id) is None
    # Processes the kill orphaned get SIGKILL from the kernel as their parent dies (pdeathsig):
    # give that a moment to land, then nothing may be left.
    for _ in range(50):
        left = subprocess.run(
            ["pgrep", "-af", str(repo / ".git" / "sia")], capture_output=True, text=True
        )
        if left.returncode == 1:
            break
        time.sleep(0.1)
    assert left.returncode == 1, left.stdout


def test_every_fault_point_has_a_kill_test() -> None:
    from sia_git.core.faults import PHASES as POINTS

    assert set(PHASES) == set(POINTS)


@pytest.mark.parametrize("phase", sorted(PHASES))
def test_sigkill_at_each_phase_then_resume(
    repo: Path, tmp_path: Path, phase: str, request: pytest.FixtureRequest
) -> None:
    if phase == "reverting":  # needs a gain that does not hold on confirmation
        agent = tmp_path / "noisy.py"
        agent.write_text(NOISY)
        # --accept 1: 9 dev items can't show a significant gain; this is about the revert
        args = ["--task-dir", str(SIA_TASK), "--agent", str(agent), "--candidates", "1",
                "--accept", "1"]  # fmt: skip
    elif phase == "training":  # a weights generation, killed while its adapter trains
        task = request.getfixturevalue("tiny_task")
        args = [
            "--task-dir",
            str(task),
            "--lever",
            "weights",
            "--candidates",
            "1",
            "--confirm-runs",
            "0",
        ]
    else:
        args = ["--task", "penguins", "--candidates", "2"]
    tmp = tmp_path / "tmpdir"  # TMPDIR of the killed run and of the resume: what they leave
    tmp.mkdir()
    code = evolve(repo, *args, "--max-gen", "3", fault=f"{phase}:{PHASES[phase]}", tmp=tmp)
    assert code == -9, f"the fault point '{phase}' was never reached"
    [run_id] = run_ids(repo)
    consistent(repo, run_id)

    evolve(repo, "--run", run_id, tmp=tmp)
    consistent(repo, run_id)
    attempts = git(
        repo, "for-each-ref", "--format=%(refname:strip=4)", f"refs/sia/{run_id}/attempts/"
    ).split()
    assert attempts == ["g0001", "g0002", "g0003"]
    commits = branch_commits(repo, run_id)
    gens = [trailers(repo, c).get("Sia-Generation") for c in commits]
    gens = [int(g) for g in gens if g]
    assert gens == sorted(set(gens)) and gens[0] == 1
    reverted = [
        trailers(repo, c)["Sia-Reverts"] for c in commits if "Sia-Reverts" in trailers(repo, c)
    ]
    assert len(reverted) == len(set(reverted))
    if phase == "reverting":
        assert reverted, "the revert the kill interrupted was not finished"
    notes = {line.split()[1] for line in git(repo, "notes", "--ref", "sia", "list").splitlines()}
    for gen in attempts:
        record = json.loads(git(repo, "show", f"refs/sia/{run_id}/attempts/{gen}:attempt.json"))
        for cand in record["candidates"]:
            assert cand["commit"] in notes, (gen, cand["candidate"])
    worktree = repo / ".git" / "sia" / "worktrees" / run_id
    assert git(worktree, "status", "--porcelain") == ""
    assert not (repo / ".git" / "worktrees" / run_id / "REVERT_HEAD").exists()
    assert not list((repo / ".git" / "sia" / "scratch").glob("*/*"))
    # Kill, resume, gc: no temporary folder is left anywhere, and the run is whole.
    done = subprocess.run([sys.executable, "-m", "sia_git", "gc"], cwd=repo, text=True,
                          capture_output=True, env={**os.environ, "TMPDIR": str(tmp)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert list(tmp.iterdir()) == []
    assert not list((repo / ".git" / "sia" / "worktrees").iterdir())
    assert not list((repo / ".git" / "sia" / "scratch").iterdir())
    assert branch_commits(repo, run_id) == commits


def test_a_kill_before_generation_one_leaves_nothing_that_blocks_a_new_run(repo: Path) -> None:
    assert evolve(repo, "--task", "penguins", "--max-gen", "1", fault="gating:1") == -9
    assert run_ids(repo) == []
    [orphan] = list((repo / ".git" / "sia" / "scratch").iterdir())
    evolve(repo, "--task", "penguins", "--max-gen", "1")
    assert len(run_ids(repo)) == 1
    assert not orphan.exists()
    assert subprocess.run(["git", "fsck", "--strict"], cwd=repo).returncode == 0


@pytest.mark.parametrize("phase", ["running", "training"])
def test_a_kill_while_the_local_model_serves_or_trains_loses_only_that_generation(
    repo: Path, tmp_path: Path, phase: str, tiny_served_task: Path
) -> None:
    """The task's model is served by sia-git itself: a kill while generation 2's agent calls it
    (running) or while its adapter trains loses generation 2 only; the resume redoes it."""
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    args = ["--task-dir", str(tiny_served_task), "--lever", "weights", "--candidates", "1",
            "--confirm-runs", "0", "--max-gen", "3"]  # fmt: skip
    occurrence = {"running": 2, "training": 1}[phase]  # gen 1 runs once before any training
    code = evolve(repo, *args, fault=f"{phase}:{occurrence}", tmp=tmp)
    assert code == -9, f"the fault point '{phase}' was never reached"
    [run_id] = run_ids(repo)
    consistent(repo, run_id)
    kept = branch_commits(repo, run_id)
    assert [trailers(repo, c).get("Sia-Generation") for c in kept] == ["1"]

    evolve(repo, "--run", run_id, tmp=tmp)
    consistent(repo, run_id)
    commits = branch_commits(repo, run_id)
    assert commits[: len(kept)] == kept  # generation 1 untouched
    attempts = git(
        repo, "for-each-ref", "--format=%(refname:strip=4)", f"refs/sia/{run_id}/attempts/"
    ).split()
    assert attempts == ["g0001", "g0002", "g0003"]
