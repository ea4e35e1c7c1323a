"""A plain (non-editable) install carries the built-in tasks, templates, evaluators and hooks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV, ROOT, make_repo, run_ids
from tests.fakellm import FakeLLM, code_reply

pytestmark = pytest.mark.slow


def test_built_wheel_installs_and_runs(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = wheels.glob("sia_git-*.whl")
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    bundled = target / "sia_git" / "_bundled"
    for path in (
        "tasks/penguins/task.toml",
        "tasks/word-sentiment/private/dev.csv",
        "tasks/word-sentiment-lm/task.toml",
        "tasks/word-sentiment-lm/reference/target_agent.py",
        "templates/task/task.toml",
        "templates/evaluators/accuracy.py",
        "templates/ci/github.yml",
        "templates/report/report.html.j2",
        "hooks/ruff.toml",
        "templates/prompts/meta_system.md.j2",
        "templates/prompts/feedback_system.md.j2",
        "templates/prompts/sample_tasks",
    ):
        assert (bundled / path).exists(), path
    assert (target / "sia_git" / "sandbox" / "sia_gateway.py").is_file()

    # Run the installed copy, from outside the checkout, with the checkout off sys.path.
    env = {**os.environ, **GIT_ENV, "PYTHONPATH": str(target), "PYTHONSAFEPATH": "1"}
    repo = make_repo(tmp_path / "project")

    def sia(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sia_git", *args],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    where = subprocess.run(
        [sys.executable, "-c", "import sia_git; print(sia_git.__file__)"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(target))
    assert "word-sentiment-lm" in sia("tasks").stdout
    assert sia("init", "--task", "custom").returncode == 0
    done = sia("evolve", "--task", "penguins", "--max-gen", "2")
    assert done.returncode == 0, done.stderr
    assert len(run_ids(repo)) == 1
    done = sia("report", "--out", str(tmp_path / "report.html"))
    assert done.returncode == 0, done.stderr
    assert "score-plot" in (tmp_path / "report.html").read_text()

    # The Meta-Agent's prompts render from the installed templates.
    reference = (bundled / "tasks/penguins/reference/target_agent.py").read_text()
    with FakeLLM(lambda body, n: code_reply(reference)) as llm:
        done = sia(
            "evolve",
            "--task",
            "penguins",
            "--max-gen",
            "1",
            "--model",
            "openai/gpt-4o-mini",
            "--api-base",
            llm.api_base,
        )
    assert done.returncode == 0, done.stderr
    assert "# Task: penguins" in llm.requests[0]["messages"][1]["content"]
    assert "gen 1: Meta-Agent" in done.stdout
