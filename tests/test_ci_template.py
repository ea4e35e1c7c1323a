"""`sia-git init --ci github`: the workflow parses, calls commands and flags that exist, and its
evaluation step works as written on a clone with the private answers unpacked from the secret."""

from __future__ import annotations

import base64
import io
import re
import shlex
import subprocess
import tarfile
from pathlib import Path

import click
import pytest
import yaml

from sia_git.cli import cli
from tests.conftest import Runner, git, run_ids
from tests.test_cli_errors import _task_copy

WORKFLOW = Path(".github/workflows/sia-git.yml")


def _sia_calls(workflow: dict) -> list[list[str]]:
    calls = []
    for step in workflow["jobs"]["eval"]["steps"]:
        script = step.get("run", "").replace("\\\n", " ")
        for line in script.splitlines():
            line = re.sub(r"\$\{\{[^}]*\}\}", "X", line.strip())
            if line.startswith("sia-git "):
                calls.append(shlex.split(line.split(">")[0]))
    return calls


def test_the_workflow_parses_and_uses_real_commands_and_flags(tmp_path: Path, sia: Runner) -> None:
    done = sia("init", "--ci", "github", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    workflow = yaml.safe_load((tmp_path / WORKFLOW).read_text())
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as true
    assert "startsWith(github.head_ref, 'sia/')" in workflow["jobs"]["eval"]["if"]
    assert "secrets.SIA_TASK_PRIVATE" in (tmp_path / WORKFLOW).read_text()
    calls = _sia_calls(workflow)
    assert calls and calls[0][1] == "eval"
    for call in calls:
        command = cli.commands[call[1]]
        known = {o for p in command.params if isinstance(p, click.Option) for o in p.opts}
        flags = [a for a in call[2:] if a.startswith("--")]
        assert set(flags) <= known, set(flags) - known
    again = sia("init", "--ci", "github", cwd=tmp_path)
    assert again.returncode != 0 and "already exists" in again.stderr


@pytest.mark.slow
def test_the_evaluation_step_runs_as_written_on_a_clone(
    tmp_path: Path, repo: Path, sia: Runner
) -> None:
    task = _task_copy(tmp_path, lambda t: None)
    assert (
        sia(
            "evolve", "--task-dir", str(task), "--max-gen", "3", "--confirm-runs", "0", cwd=repo
        ).returncode
        == 0
    )
    [run_id] = run_ids(repo)
    # The secret, made as the workflow's comment says: a base64 tarball of private/.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(task / "private", arcname="private")
    secret = base64.b64encode(buf.getvalue()).decode()

    clone = tmp_path / "ci"
    subprocess.run(
        ["git", "clone", "-q", "--branch", f"sia/{run_id}", str(repo), str(clone)], check=True
    )
    assert not (clone / "sia-agent" / "task" / "private").exists()  # never committed
    subprocess.run(
        f"echo {secret} | base64 -d | tar xz -C sia-agent/task", shell=True, cwd=clone, check=True
    )
    head = git(clone, "rev-parse", "HEAD").strip()
    done = sia(
        "eval",
        head,
        "--task-dir",
        "sia-agent/task",
        "--markdown",
        "--fail-on-regression",
        "--tolerance",
        "0.0",
        cwd=clone,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("### sia-git eval: ✅ no regression")
    assert f"({head[:10]})" in done.stdout
