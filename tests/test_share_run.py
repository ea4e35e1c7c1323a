"""Sharing a run through a remote, with README's own two commands as written (issue 32, item 2:
the command README gave once pushed no run branch, and a clone needed an undocumented fetch).
The remote is a bare repository in a temporary folder."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

from tests.conftest import ROOT, Runner, git, run_ids


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
