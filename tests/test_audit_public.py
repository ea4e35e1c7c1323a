"""Issue 28: text that the task's public files hold is not a leak. A GPQA-style task
(tests/gpqatask.py) shares each question's text between its public questions file and its
private answer file; a clean run of it audits clean, and a planted answer is still caught."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from sia_git.tasks.task import load
from tests import gpqatask
from tests.conftest import Runner, run_ids
from tests.test_audit import _add_ref


@pytest.fixture
def gpqa_run(repo: Path, sia: Runner, tmp_path: Path) -> tuple[Path, str, Path]:
    task = gpqatask.make(tmp_path / "gpqa")
    done = sia(
        "evolve",
        "--task-dir",
        str(task),
        "--max-gen",
        "2",
        "--candidates",
        "2",
        "--confirm-runs",
        "0",
        "--quiet",
        cwd=repo,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    return repo, run_id, task


def _sealed_answers(task: Path) -> dict[str, str]:
    t = load(task, source=str(task))
    return {i: a for i, a in gpqatask.answers(task).items() if t.plan.side(i) == "test"}


def test_a_clean_gpqa_style_run_is_clean_and_a_planted_answer_is_caught(
    gpqa_run, sia: Runner
) -> None:
    repo, run_id, task = gpqa_run
    private = (task / "data/private/answers.csv").read_text()
    public = (task / "data/public/questions.csv").read_text()
    shared = set(private.splitlines()[1:]) & set(public.splitlines()[1:])
    assert len([s for s in shared if s.count(",") >= 2]) >= 10  # what issue 28's audit reported
    done = sia("audit", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "clean" in done.stdout

    # Public text copied anywhere (a trace echoing the questions file) is still not a leak.
    _add_ref(repo, f"refs/sia/{run_id}/rejected/g0098-c1", {"echo/questions.txt": public})
    assert sia("audit", cwd=repo).returncode == 0

    sealed = _sealed_answers(task)
    rows = io.StringIO()
    csv.writer(rows, lineterminator="\n").writerows(sealed.items())
    for path, content in (
        ("leak/key.json", json.dumps({"correct_answer": sealed})),
        ("leak/key.csv", "id,answer\n" + rows.getvalue()),
    ):
        ref = f"refs/sia/{run_id}/rejected/g0099-c{len(path)}"
        _add_ref(repo, ref, {path: content})
        done = sia("audit", cwd=repo)
        assert done.returncode == 1, done.stdout
        assert f"{path}: pairs {len(sealed)} sealed test item(s) with their gold" in done.stdout
        assert "'correct_answer'" in done.stdout
