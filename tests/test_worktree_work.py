"""A person's work in a run's worktree is never discarded (issue 32, item 1): README sends people
into `.git/sia/worktrees/<run>` to `git revert`; `evolve --run`, `sia-git revert` and `gc` once
wiped what they left there (`reset --hard`, `clean -fd`, `worktree remove --force`). Now it is
committed under `refs/sia-kept/<run>/<n>` first, and the command says so."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Runner, git, run_ids

AGENT = "sia-agent/agent/target_agent.py"


def _run(repo: Path, sia: Runner) -> tuple[str, Path]:
    done = sia("evolve", "--task", "penguins", "--max-gen", "3", "--accept", "1",
               "--confirm-runs", "0", cwd=repo)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    assert git(repo, "for-each-ref", "refs/sia-kept/").strip() == ""  # sia-git's own: none
    return run_id, repo / ".git" / "sia" / "worktrees" / run_id


def _leave_work(worktree: Path) -> None:
    agent = worktree / AGENT
    agent.write_text(agent.read_text() + "\n# my note\n")
    (worktree / "notes.txt").write_text("an idea\n")


def _assert_kept(repo: Path, said: str, ref: str) -> None:
    assert f"as {ref}:" in said, said
    assert git(repo, "show", f"{ref}:{AGENT}").endswith("# my note\n")
    assert git(repo, "show", f"{ref}:notes.txt") == "an idea\n"


def test_resuming_keeps_edits_and_new_files_left_in_the_worktree(repo: Path, sia: Runner) -> None:
    run_id, worktree = _run(repo, sia)
    _leave_work(worktree)
    done = sia("evolve", "--run", run_id, "--max-gen", "4", cwd=repo)
    assert done.returncode == 0, done.stderr + done.stdout
    ref = f"refs/sia-kept/{run_id}/1"
    _assert_kept(repo, done.stdout, ref)
    assert not (worktree / "notes.txt").exists()  # the worktree follows its branch again


def test_sia_git_revert_keeps_a_revert_being_resolved(repo: Path, sia: Runner) -> None:
    run_id, worktree = _run(repo, sia)
    tip = git(repo, "rev-parse", f"sia/{run_id}").strip()
    git(worktree, "revert", "--no-commit", tip)  # a person's revert, not yet committed
    _leave_work(worktree)
    done = sia("revert", "--run", run_id, "2", cwd=repo)
    ref = f"refs/sia-kept/{run_id}/1"
    _assert_kept(repo, done.stderr, ref)
    assert "a revert was in progress" in git(repo, "log", "-1", "--format=%s", ref)


def test_gc_keeps_work_and_its_dry_run_says_so(repo: Path, sia: Runner) -> None:
    run_id, worktree = _run(repo, sia)
    _leave_work(worktree)
    dry = sia("gc", "--dry-run", cwd=repo)
    assert f"worktrees/{run_id} (its changes kept under refs/sia-kept/)" in dry.stdout
    assert (worktree / "notes.txt").exists()
    done = sia("gc", cwd=repo)
    assert done.returncode == 0, done.stderr
    _assert_kept(repo, done.stdout, f"refs/sia-kept/{run_id}/1")
    assert not worktree.exists()
