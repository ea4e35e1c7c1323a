"""The command line's one error boundary: exit codes, one line, and a log file for a bug."""

from __future__ import annotations

from pathlib import Path

import pytest

from sia_git.cli import boundary, cli
from sia_git.commands import tasks
from tests.conftest import Runner


def _call(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as done:
        boundary.run(lambda: cli.main(argv, prog_name="sia-git", standalone_mode=False), cli)
    return int(done.value.code or 0)


def test_a_bug_is_one_line_naming_a_log_with_the_traceback(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*_: object) -> None:
        raise KeyError("the lever table")

    monkeypatch.setattr(tasks, "run", broken)
    monkeypatch.chdir(repo)
    monkeypatch.setattr("sys.argv", ["sia-git", "tasks"])
    assert _call(["tasks"]) == boundary.EXIT_BUG
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("sia-git: error: internal error (KeyError: 'the lever table')")
    log = Path(err.split("the traceback is in ")[1].split(":")[0])
    assert log.parent == repo / ".git" / "sia" / "logs"
    text = log.read_text()
    assert text.startswith("sia-git tasks") and "Traceback" in text and "def broken" not in err
    assert "raise KeyError" in text


def test_exit_codes_for_usage_errors_and_errors_to_fix(repo: Path, sia: Runner) -> None:
    usage = sia("evolve", "--max-gen", "many", cwd=repo)
    assert usage.returncode == 2 and usage.stderr.count("\n") == 1
    fix = sia("log", cwd=repo)  # no runs yet
    assert fix.returncode == 2 and "no sia-git runs" in fix.stderr
    assert sia(cwd=repo).returncode == 0  # bare: the help


def test_shell_completion_works_as_the_readme_says() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "_SIA_GIT_COMPLETE": "bash_complete", "COMP_WORDS": "sia-git ev",
           "COMP_CWORD": "1"}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "sia_git"], env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0 and "plain,evolve" in done.stdout and "plain,eval" in done.stdout
