"""Issue 26: the score oracle. A run of the flip fixture (tests/data/flip_task) made with the old
rule, where every candidate's sealed score was stored, rejected ones too (sia-git at 92ad6d8:
`evolve --max-gen 8 --candidates 3 --confirm-runs 0`, kept as tests/data/old_rule_run.bundle):
an attacker with a clone reads the flipped items' labels back (tests/sealed_attack.py), and
`audit` reports the oracle."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, Runner, git
from tests.sealed_attack import attack, observations, reference_right

BUNDLE = ROOT / "tests/data/old_rule_run.bundle"
FLIP_TASK = ROOT / "tests/data/flip_task"


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """What a clone of the run gets: its branch, refs/sia/* and the notes."""
    dest = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(BUNDLE), str(dest))
    git(
        dest,
        "fetch",
        "-q",
        "origin",
        "+refs/sia/*:refs/sia/*",
        "+refs/notes/*:refs/notes/*",
        "+refs/heads/sia/*:refs/heads/sia/*",
    )
    return dest


def test_the_old_rule_gives_the_flipped_labels_away_and_audit_says_so(
    clone: Path, sia: Runner
) -> None:
    assert len(observations(clone)) >= 20
    found, truth = attack(clone, FLIP_TASK), reference_right(FLIP_TASK)
    assert len(found) >= 10 and set(found) <= set(truth)
    assert sum(found[i] == truth[i] for i in found) == len(found)

    done = sia("audit", "--task-dir", str(FLIP_TASK), cwd=clone)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(
        "score oracle: 19 sealed score(s) stored for candidates that were not committed" in line
        and "the release rule allows none" in line
        for line in lines
    ), done.stdout
    assert any("are not the release rule's: score #1" in line for line in lines), done.stdout
    assert len(lines) == 2  # one line per kind of oracle, not one per score


def test_another_native_task_is_refused(clone: Path, sia: Runner, tmp_path: Path) -> None:
    other = shutil.copytree(FLIP_TASK, tmp_path / "flop")
    toml = other / "task.toml"
    toml.write_text(toml.read_text().replace('name = "flip"', 'name = "flop"'))
    done = sia("audit", "--task-dir", str(other), cwd=clone)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "it is task flop with answers sha256:" in done.stderr
    assert "was made with task flip (answers not recorded)" in done.stderr
