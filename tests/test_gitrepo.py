"""The git layer: repository checks, plumbing commits, all-or-nothing ref updates."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import threading
import time
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


def _index_tree(path: Path, base: str | None, files: dict[str, bytes | None]) -> str:
    """The tree git's own index makes of `base` with `files` written or deleted."""
    env = {**os.environ, "GIT_INDEX_FILE": str(path / ".git" / "test-index")}
    (path / ".git" / "test-index").unlink(missing_ok=True)
    run = functools.partial(subprocess.run, cwd=path, env=env, check=True, capture_output=True)
    if base:
        run(["git", "read-tree", base])
    for name, content in files.items():
        if content is None:
            run(["git", "update-index", "--force-remove", name])
        else:
            blob = run(["git", "hash-object", "-w", "--stdin"], input=content).stdout.decode()
            run(["git", "update-index", "--add", "--cacheinfo", f"100644,{blob.strip()},{name}"])
    return run(["git", "write-tree"]).stdout.decode().strip()


def test_trees_made_many_at_once_are_the_trees_an_index_makes(tmp_path: Path) -> None:
    """`make_trees` computes trees in Python and writes them in one git process: for files
    written, replaced and deleted, folders made and emptied, an executable and a link kept
    from the base, each tree is the one git's index would write."""
    path = make_repo(tmp_path / "r")
    for name, text in {"a/b/c.py": "c", "a/d.txt": "d", "a-b": "x", "a.b": "y", "e/f": "f"}.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    (path / "run.sh").write_text("#!/bin/sh\n")
    (path / "run.sh").chmod(0o755)
    (path / "link").symlink_to("a-b")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "base")
    repo = open_repo(path)
    head = repo.rev_parse("HEAD")
    changes: list[dict[str, bytes | None]] = [
        {"a/b/c.py": b"new c\n", "a/b/g/h.py": b"h\n", "z.txt": b"z"},
        {"e/f": None, "a/d.txt": None, "a/b/c.py": None},  # e/ and a/ go empty: they go
        {"a": None, "a/b": b"x"},  # a folder is not deleted as if it were a file
        {"sia-agent/agent/target_agent.py": b"print(1)\n", "sia-agent/notes/g2.md": b"n"},
        {},
    ]
    got = repo.make_trees(head, changes)
    assert got == [_index_tree(path, head, files) for files in changes[:2]] + got[2:3] + [
        _index_tree(path, head, files) for files in changes[3:]
    ]
    listed = git(path, "ls-tree", "-r", "--name-only", got[2]).split()
    assert [n for n in listed if n.startswith("a")] == ["a-b", "a.b", "a/b", "a/d.txt"], listed
    assert repo.make_trees(None, changes[:1]) == [_index_tree(path, None, changes[0])]
    tree = git(path, "rev-parse", "HEAD^{tree}").strip()  # a tree as the base, not a commit
    assert repo.make_tree(tree, changes[0]) == got[0]
    fsck = subprocess.run(["git", "fsck", "--strict"], cwd=path, capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr


def test_commits_made_many_at_once_are_the_commits_commit_tree_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make_commits` builds commit objects in Python and writes them in one git process:
    each is the commit `commit-tree` writes for the same tree, parents and message (one
    parent, two, none; a message without a final newline; one that is not ASCII; a key that
    is redacted), and where git would change a commit (another commit encoding) each goes
    through `commit-tree` itself."""
    monkeypatch.setenv("GIT_AUTHOR_DATE", "1700000000 +0130")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "1700000100 -0700")
    path = make_repo(tmp_path / "r")
    repo = open_repo(path)
    head = repo.rev_parse("HEAD")
    tree = git(path, "rev-parse", "HEAD^{tree}").strip()
    other = repo.commit(tree, [head], "other\n")
    specs = [
        (tree, [head], "subject\n\nbody\n\nSia-Gen: 2\n"),
        (tree, [head, other], "merge, no final newline"),
        (tree, [], "root: été ✓\n"),
        (tree, [head], "leaked sk-ant-" + "a" * 24 + "\n"),
    ]
    made = repo.make_commits(specs)
    assert made == [repo.commit(t, ps, m) for t, ps, m in specs]
    assert "sk-ant-" not in git(path, "cat-file", "commit", made[3])
    assert len(set(made)) == 4
    git(path, "config", "i18n.commitEncoding", "ISO-8859-1")
    latin = repo.make_commits(specs[2:3])
    assert latin == [repo.commit(*specs[2])] and latin[0] != made[2]
    assert "encoding ISO-8859-1" in git(path, "cat-file", "commit", latin[0])
    fsck = subprocess.run(["git", "fsck", "--strict"], cwd=path, capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr


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


def test_many_notes_go_in_as_one_notes_commit_that_git_reads(tmp_path: Path) -> None:
    """A generation's notes in one commit, beside notes `git notes add` wrote (git fans its
    tree out past a few hundred): `git notes show` and `list` read both, and a stale lock a
    killed git left does not block it."""
    import os
    import time

    root = make_repo(tmp_path / "r")
    repo = open_repo(root)
    shas = [repo.commit(repo.make_tree(None, {"f": f"{i}\n".encode()}), [], f"c{i}\n")
            for i in range(300)]  # fmt: skip
    for sha in shas[:260]:  # git's own notes, fanned out once there are this many
        git(root, "notes", "--ref", "sia", "add", "-m", f"git {sha}", sha)
    assert any("/" not in line.split()[-1] and len(line.split()[-1]) == 2
               for line in git(root, "ls-tree", "refs/notes/sia").splitlines())  # fmt: skip
    lock = repo.common_dir / "refs" / "notes" / "sia.lock"
    lock.write_text("")
    os.utime(lock, (time.time() - 60, time.time() - 60))
    before = git(root, "rev-parse", "refs/notes/sia").strip()
    repo.add_notes({sha: f"ours {sha}\n" for sha in shas[260:]})
    assert git(root, "rev-parse", "refs/notes/sia^").strip() == before  # one commit on top
    assert repo.note(shas[0]) == f"git {shas[0]}\n"
    assert all(repo.note(sha) == f"ours {sha}\n" for sha in shas[260:])
    listed = {line.split()[1] for line in git(root, "notes", "--ref", "sia", "list").splitlines()}
    assert listed == set(shas) and not lock.exists()
    repo.add_notes({})  # nothing to add: no commit
    assert git(root, "rev-parse", "refs/notes/sia^").strip() == before


def test_a_runs_own_ref_locks_are_cleared_when_it_resumes(repo: Path, sia) -> None:  # noqa: ANN001
    assert sia("evolve", "--task", "penguins", "--max-gen", "1", cwd=repo).returncode == 0
    run_id = git(repo, "for-each-ref", "--format=%(refname:strip=3)", "refs/heads/sia/").strip()
    for name in (f"refs/heads/sia/{run_id}.lock", f"refs/sia/{run_id}/attempts/g0002.lock"):
        (repo / ".git" / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / ".git" / name).write_text("")  # what a SIGKILL mid-update leaves
    done = sia("evolve", "--run", run_id, "--max-gen", "2", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert git(repo, "rev-parse", "-q", "--verify", f"refs/sia/{run_id}/attempts/g0002")


def _interrupt_after(*seconds: float) -> list[threading.Timer]:
    timers = [threading.Timer(s, os.kill, (os.getpid(), signal.SIGINT)) for s in seconds]
    for t in timers:
        t.start()
    return timers


def test_an_interrupt_lets_the_git_command_under_way_finish(tmp_path: Path) -> None:
    """Ctrl-C (or a `kill`) once killed the git command under way: a `git worktree add` cut
    short left a worktree whose HEAD pointed at nothing, and `git fsck` failed in the user's
    repository. The command now finishes, then the interrupt goes on; a second interrupt
    stops it at once (SIGTERM, which git answers by cleaning up)."""
    path = make_repo(tmp_path / "project")
    repo = open_repo(path)
    slow = "alias.slow=!sleep 1.5 && touch finished"
    _interrupt_after(0.3)
    with pytest.raises(KeyboardInterrupt):
        repo.git("-c", slow, "slow")
    assert (path / "finished").is_file()

    started = time.monotonic()
    timers = _interrupt_after(0.3, 0.6)
    with pytest.raises(KeyboardInterrupt):
        repo.git("-c", "alias.slower=!sleep 30 && touch stopped", "slower")
    for t in timers:
        t.join()
    assert not (path / "stopped").exists() and time.monotonic() - started < 20
