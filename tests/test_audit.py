"""`sia-git audit`: what it reads (only what a clone of the run gets beyond the user's own
history) and each kind of leak it reports."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from sia_git.task import load
from tests import siatask
from tests.conftest import GIT_ENV, Runner, git, run_ids


@pytest.fixture
def run(repo: Path, sia: Runner, tmp_path: Path) -> tuple[Path, str, Path]:
    task = siatask.make(tmp_path / "passengers", n_test=80)
    done = sia("evolve", "--task-dir", str(task), "--max-gen", "1", "--quiet", cwd=repo)
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    return repo, run_id, task


def _add_ref(repo: Path, name: str, files: dict[str, str]) -> None:
    """A commit holding `files` on `name` (as a hostile or buggy writer would leave it)."""
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    env = {**os.environ, **GIT_ENV, "GIT_INDEX_FILE": str(repo / ".git" / "audit-index")}

    def plumbing(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
        ).stdout.strip()

    plumbing("add", *files)
    git(repo, "update-ref", name, plumbing("commit-tree", plumbing("write-tree"), "-m", "x"))


def _sealed(task: Path) -> list[str]:
    t = load(task, source=str(task))
    return sorted(i for i in siatask.gold(task) if t.plan.side(i) == "test")


def test_a_clean_run_is_clean_and_json_says_so(run, sia: Runner) -> None:
    repo, run_id, task = run
    out = json.loads(sia("audit", "--json", cwd=repo).stdout)
    assert out["clean"] and out["findings"] == [] and out["run"] == run_id
    assert out["sealed_items"] == len(_sealed(task)) and out["objects"] > 5


@pytest.mark.parametrize(
    "leak", ["status line", "json item", "keyed map", "private file", "private row"]
)
def test_each_kind_of_leak_is_reported(run, sia: Runner, leak: str) -> None:
    repo, run_id, task = run
    item = _sealed(task)[0]
    private = (task / "data/private/test.csv").read_text()
    text = {
        "status line": f"failed items:\n  {item}: wrong\n",
        "json item": json.dumps({"items": [{"id": item, "status": "wrong"}]}),
        "keyed map": json.dumps({item: "correct", "other": "x"}),
        "private file": "copied:\n" + private,
        "private row": "x\n" + private.splitlines()[3] + "\n",
    }[leak]
    _add_ref(repo, f"refs/sia/{run_id}/attempts/g0099", {"leak/out.txt": text})
    done = sia("audit", cwd=repo)
    assert done.returncode == 1
    assert "leak/out.txt" in done.stdout and "finding(s)" in done.stderr


def test_the_users_history_before_the_run_is_not_the_runs(run, sia: Runner) -> None:
    repo, run_id, task = run
    # A file in the user's own history (before the run's base) is not something the run adds.
    base = git(repo, "rev-parse", f"refs/sia/{run_id}/base").strip()
    assert base
    item = _sealed(task)[0]
    _add_ref(repo, "refs/heads/unrelated", {"mine.txt": f"{item}: wrong\n"})
    assert sia("audit", cwd=repo).returncode == 0
    # ... but the same text reachable from the run's notes is.
    git(
        repo,
        "notes",
        "--ref",
        "sia",
        "add",
        "-f",
        "-m",
        f"{item}: wrong",
        git(repo, "rev-parse", f"sia/{run_id}").strip(),
    )
    done = sia("audit", cwd=repo)
    assert done.returncode == 1 and f"links sealed test item {item} to status" in done.stdout


def test_audit_needs_the_task_and_says_how_to_give_it(run, sia: Runner, tmp_path: Path) -> None:
    repo, _, task = run
    task.rename(tmp_path / "moved")
    done = sia("audit", cwd=repo)
    assert done.returncode != 0 and "task directory not found" in done.stderr
    assert sia("audit", "--task-dir", str(tmp_path / "moved"), cwd=repo).returncode == 0
