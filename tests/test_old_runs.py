"""Runs written by the previous release (sia-git 0.1.0, before sealed test splits) stay readable.

tests/data/runs-0.1.0.bundle is a repository that release made: `evolve --task penguins
--max-gen 3` (a task with its own dev and test splits) and `evolve --task-dir
tests/data/sia_task --max-gen 2` (a SIA-layout task with one answer set, which that release
selected on). Nothing in it is rewritten by reading it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Runner, git

BUNDLE = Path(__file__).parent / "data" / "runs-0.1.0.bundle"
PENGUINS = "penguins-20261201-031322"
SIA_RUN = "sia_task-20261201-031329"
SIA_TASK = Path(__file__).parent / "data" / "sia_task"


@pytest.fixture
def old(tmp_path: Path) -> Path:
    clone = tmp_path / "old"
    clone.mkdir()
    git(clone, "init", "-q", "--initial-branch=main")
    git(clone, "fetch", "-q", "--update-head-ok", str(BUNDLE), "+refs/*:refs/*")
    git(clone, "reset", "-q", "--hard", "main")
    return clone


def test_log_show_and_report_read_an_old_run(old: Path, sia: Runner, tmp_path: Path) -> None:
    before = git(old, "for-each-ref")
    rows = json.loads(sia("log", "--run", PENGUINS, "--json", cwd=old).stdout)
    assert rows["warning"] is None and [
        r["gen"] for r in rows["rows"] if r["status"] == "accepted"
    ] == [1, 2, 3]
    shown = sia("show", "3", "--run", PENGUINS, cwd=old)
    assert shown.returncode == 0 and "Sia-Score-Test" in shown.stdout
    report = sia("report", PENGUINS, "--out", str(tmp_path / "p.html"), cwd=old)
    assert report.returncode == 0, report.stderr
    assert git(old, "for-each-ref") == before  # read, not rewritten


def test_an_old_run_is_scored_again_the_same(old: Path, sia: Runner) -> None:
    """The run was not started here (it came in a bundle): its branch does not get to name the
    task, the person evaluating does. The sealed split is not scored afresh: its row shows what
    the run published."""
    tip = git(old, "rev-parse", f"sia/{PENGUINS}").strip()
    refused = sia("eval", tip, "--json", cwd=old)
    assert refused.returncode == 2 and "name the task to score it with" in refused.stderr
    done = sia("eval", tip, "--json", "--task", "penguins", cwd=old)
    assert done.returncode == 0, done.stderr
    rows = {r["split"]: r for r in json.loads(done.stdout)["splits"]}
    assert rows["dev"]["score"] == pytest.approx(rows["dev"]["committed"])
    assert rows["test"]["score"] is None and rows["test"]["sealed"]


def test_an_old_run_on_a_one_answer_set_task_says_it_selected_on_test(
    old: Path, sia: Runner
) -> None:
    for cmd in (["log"], ["show", "1"]):
        out = sia(*cmd, "--run", SIA_RUN, cwd=old)
        assert out.returncode == 0, out.stderr
        assert "selected on the task's only answer set, the test labels" in out.stderr
    # That release stored every item's status of its only (test) answer set: the audit says so.
    audit = sia("audit", "--run", SIA_RUN, "--task-dir", str(SIA_TASK), cwd=old)
    assert audit.returncode == 1 and "links sealed test item" in audit.stdout
    done = sia("evolve", "--run", SIA_RUN, "--max-gen", "3", cwd=old)
    assert done.returncode == 2 and "start a new run" in done.stderr
