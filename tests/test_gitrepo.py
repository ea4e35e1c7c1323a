"""The git layer: repository checks, plumbing commits, all-or-nothing ref updates."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sia_git.core.errors import SiaError
from sia_git.gitrepo import GitError, open_repo
from tests.conftest import git, make_repo


def test_open_repo_rejects_what_cannot_host_a_run(tmp_path: Path) -> None:
    with pytest.raises(SiaError, match="not a git repository"):
        open_repo(tmp_path)
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "bare")], check=True)
    with pytest.raises(SiaError, match="bare repository"):
        open_repo(tmp_path / "bare")
    subprocess.run(["git", "init", "-q", str(tmp_path / "empty")], check=True)
    with pytest.raises(SiaError, match="no commits yet"):
        open_repo(tmp_path / "empty")


def test_make_tree_and_commit_leave_the_checkout_alone(tmp_path: Path) -> None:
    path = make_repo(tmp_path / "r")
    repo = open_repo(path)
    head = repo.rev_parse("HEAD")
    tree = repo.make_tree(head, {"sia-agent/a.py": b"print(1)\n", "README.md": None})
    sha = repo.commit(tree, [head], "subject\n\nSia-Run: x\n")
    assert repo.read_file(sha, "sia-agent/a.py") == "print(1)\n"
    assert repo.read_file(sha, "README.md") is None
    assert git(path, "status", "--porcelain", "--untracked-files=no") == ""
    assert repo.rev_parse("HEAD") == head


def test_update_refs_is_all_or_nothing(tmp_path: Path) -> None:
    path = make_repo(tmp_path / "r")
    repo = open_repo(path)
    head = repo.rev_parse("HEAD")
    repo.update_refs([("refs/sia/x/a", head, None)])
    with pytest.raises(GitError):
        # the second update expects a ref to be new that already exists: nothing may land
        repo.update_refs([("refs/sia/x/b", head, None), ("refs/sia/x/a", head, None)])
    assert repo.rev_parse("refs/sia/x/b") is None
    assert repo.rev_parse("refs/sia/x/a") == head


def test_commits_work_without_a_configured_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_repo(tmp_path / "r")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(key, raising=False)
    repo = open_repo(path)
    sha = repo.commit(repo.make_tree("HEAD", {}), [repo.rev_parse("HEAD")], "msg\n")
    assert (
        git(path, "log", "-1", "--format=%an <%ae>", sha).strip() == "sia-git <sia-git@localhost>"
    )


def test_identity_from_the_environment_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_repo(tmp_path / "r")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Env Person")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "env@example.com")
    repo = open_repo(path)
    sha = repo.commit(repo.make_tree("HEAD", {}), [repo.rev_parse("HEAD")], "msg\n")
    assert (
        git(path, "log", "-1", "--format=%an <%ae>", sha).strip() == "Env Person <env@example.com>"
    )


def test_batch_reads_match_one_call_per_commit(tmp_path: Path) -> None:
    """read_files and diffs_to_parent (one git process each, for reports of long runs) give
    what read_file and diff give one commit at a time."""
    path = make_repo(tmp_path / "r")
    repo = open_repo(path)
    head = repo.rev_parse("HEAD")
    assert head is not None
    shas, parent = [], head
    for i, content in enumerate([b"a = 1\n", b"a = 2\n", b"a = 2\n", "ü = 3\n".encode()]):
        tree = repo.make_tree(
            parent,
            {
                "sia-agent/agent/x.py": content,
                "sia-agent/notes.md": f"note {i}\n".encode(),
                "elsewhere.txt": f"{i}\n".encode(),
            },
        )
        parent = repo.commit(tree, [parent], f"gen {i}\n")
        shas.append(parent)
    root = repo.commit(repo.make_tree(None, {"sia-agent/agent/x.py": b"r\n"}), [], "root\n")
    shas.append(root)
    diffs = repo.diffs_to_parent(shas, ["sia-agent/agent"])
    for sha in shas[:-1]:
        assert diffs[sha] == repo.diff(f"{sha}^", sha, ["sia-agent/agent"])
    assert diffs[shas[2]] == ""  # no change to the agent in that commit
    assert "+r" in diffs[root] and "elsewhere" not in "".join(diffs.values())
    specs = [f"{sha}:sia-agent/notes.md" for sha in shas] + [f"{head}:missing.md"]
    got = repo.read_files(specs)
    assert got == {spec: repo.read_file(*spec.split(":", 1)) for spec in specs}
    assert got[f"{shas[3]}:sia-agent/notes.md"] == "note 3\n" and got[specs[-1]] is None


def test_a_lock_a_killed_git_left_on_the_notes_does_not_block_a_note(tmp_path: Path) -> None:
    """A SIGKILL during `git notes add` leaves refs/notes/sia.lock; the next note still goes
    in once the lock is old enough to be no live git's (they hold it for milliseconds)."""
    import os
    import time

    repo = open_repo(make_repo(tmp_path / "r"))
    head = repo.rev_parse("HEAD")
    assert head
    lock = repo.common_dir / "refs" / "notes" / "sia.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")
    old = time.time() - 60
    os.utime(lock, (old, old))
    repo.add_note(head, "a result\n")
    assert repo.note(head) == "a result\n" and not lock.exists()
    lock.write_text("")  # a fresh lock may be a live writer's: kept unless asked
    assert repo.clear_stale_locks(["refs/notes/sia"], older_than_s=30) == []
    assert repo.clear_stale_locks(["refs/notes/sia"]) == ["refs/notes/sia.lock"]


def test_a_runs_own_ref_locks_are_cleared_when_it_resumes(repo: Path, sia) -> None:  # noqa: ANN001
    assert sia("evolve", "--task", "penguins", "--max-gen", "1", cwd=repo).returncode == 0
    run_id = git(repo, "for-each-ref", "--format=%(refname:strip=3)", "refs/heads/sia/").strip()
    for name in (f"refs/heads/sia/{run_id}.lock", f"refs/sia/{run_id}/attempts/g0002.lock"):
        (repo / ".git" / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / ".git" / name).write_text("")  # what a SIGKILL mid-update leaves
    done = sia("evolve", "--run", run_id, "--max-gen", "2", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert git(repo, "rev-parse", "-q", "--verify", f"refs/sia/{run_id}/attempts/g0002")
