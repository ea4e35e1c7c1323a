"""`sia-git init --ci github`: the workflow parses, calls commands and flags that exist, and its
evaluation step works as written on a clone with the private answers unpacked from the secret."""

from __future__ import annotations

import base64
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
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


TOKEN = "ghs_actionsfaketoken0123456789abcdef"


def _actions_checkout(origin: Path, ws: Path, number: int) -> None:
    """What actions/checkout@v4 does for a pull_request event with fetch-depth 0: a fresh
    repository, every branch and the PR's merge ref fetched, the merge commit checked out
    detached. No identity is configured."""
    if ws.exists():
        shutil.rmtree(ws)
    ws.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}

    def run(*a: str) -> None:
        subprocess.run(["git", *a], cwd=ws, check=True, capture_output=True, env=env)

    run("init", "-q")
    run("remote", "add", "origin", str(origin))
    run("fetch", "-q", "--prune", "--no-recurse-submodules", "origin",
        "+refs/heads/*:refs/remotes/origin/*",
        f"+refs/pull/{number}/merge:refs/remotes/pull/{number}/merge")  # fmt: skip
    run("checkout", "-q", "--force", f"refs/remotes/pull/{number}/merge")


def _merge_ref(origin: Path, tmp: Path, head: str, number: int) -> None:
    """GitHub's refs/pull/N/merge: the head branch merged into main."""
    work = tmp / "merge"
    if work.exists():
        shutil.rmtree(work)
    subprocess.run(["git", "clone", "-q", str(origin), str(work)], check=True)
    git(work, "merge", "-q", "--no-ff", "-m", "Merge", f"origin/{head}")
    git(work, "push", "-q", "--force", "origin", f"HEAD:refs/pull/{number}/merge")


def _run_steps(workflow: dict, ws: Path, home: Path, gh_api: str, head_sha: str) -> int:
    """The steps after the install, as the runner runs them: bash -e, ${{ }} filled in, the
    GITHUB_ENV file read between steps."""
    github_env = ws.parent / "github_env"
    github_env.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    path = f"{Path(sys.executable).parent}:{env['PATH']}"
    env |= {"HOME": str(home), "GITHUB_ENV": str(github_env), "GITHUB_REPOSITORY": "me/project",
            "GITHUB_API_URL": gh_api, "PATH": path}  # fmt: skip
    fill = {"github.event.pull_request.head.sha": head_sha,
            "github.event.pull_request.number": "1", "secrets.SIA_TASK_PRIVATE": "",
            "github.token": TOKEN}  # fmt: skip
    code = 0
    for step in workflow["jobs"]["eval"]["steps"]:
        if "run" not in step or step["name"].startswith("Install"):
            continue
        script = re.sub(r"\$\{\{\s*([^}]*?)\s*\}\}", lambda m: fill[m.group(1)], step["run"])
        extra = {k: re.sub(r"\$\{\{\s*([^}]*?)\s*\}\}", lambda m: fill[m.group(1)], str(v))
                 for k, v in step.get("env", {}).items()}  # fmt: skip
        for line in github_env.read_text().splitlines():
            k, _, v = line.partition("=")
            extra[k] = v
        done = subprocess.run(["bash", "-e", "-c", script], cwd=ws, env={**env, **extra},
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        code = code or done.returncode
        if done.returncode != 0:
            break
    return code


@pytest.mark.slow
def test_the_workflow_runs_as_actions_runs_it(tmp_path: Path, sia: Runner) -> None:
    """`init --ci github`'s workflow on a pull request from a run branch, reproduced as GitHub
    Actions runs it (the merge ref, detached, fetch-depth 0, no git identity, an empty HOME)
    with the steps' own commands and the GitHub API served by tests/fakegithub.py: the eval
    passes and comments; a second push updates the one comment; a regression fails the job."""
    from tests.conftest import make_repo
    from tests.fakegithub import FakeGitHub

    user = make_repo(tmp_path / "user")
    assert sia("init", "--ci", "github", cwd=user).returncode == 0
    text = (user / WORKFLOW).read_text()
    assert "{{version}}" not in text and f'sia-git=={__import__("sia_git").__version__}"' in text
    assert "apt-get update" in text
    workflow = yaml.safe_load(text)
    git(user, "add", ".github")
    git(user, "commit", "-qm", "CI")
    evolve = ("evolve", "--task", "penguins", "--confirm-runs", "0")
    assert sia(*evolve, "--max-gen", "2", cwd=user).returncode == 0
    [run_id] = run_ids(user)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(user), str(origin)], check=True)
    home, ws = tmp_path / "home", tmp_path / "ws"
    home.mkdir()
    with FakeGitHub("me/project", origin, TOKEN) as gh:
        gh.route("POST", "/repos/me/project/pulls", {}, {"title": "run", "head": f"sia/{run_id}",
                                                          "base": "main"})  # fmt: skip
        heads: list[str] = []
        for push in range(2):
            if push:  # a later push: one more generation on the run branch
                assert sia("evolve", "--run", run_id, "--max-gen", "6", cwd=user).returncode == 0
                git(user, "push", "-q", "--force", str(origin), f"sia/{run_id}")
            head = git(user, "rev-parse", f"sia/{run_id}").strip()
            _merge_ref(origin, tmp_path, f"sia/{run_id}", 1)
            _actions_checkout(origin, ws, 1)
            assert _run_steps(workflow, ws, home, gh.api, head) == 0
            [comment] = gh.comments[1]  # one comment, created then updated
            assert "sia-git eval" in comment and head[:10] in comment
            heads.append(head)
        assert len(set(heads)) == 2, "the second push should bring a new generation"

        # A regression: a hand-made generation whose agent is worse, pushed to the branch.
        hand = tmp_path / "hand"
        git(user, "worktree", "add", "-q", "--detach", str(hand), f"sia/{run_id}")
        agent = hand / "sia-agent" / "agent" / "target_agent.py"
        agent.write_text(agent.read_text().replace('"model": "knn"', '"model": "majority"')
                         .replace('"model": "threshold"', '"model": "majority"'))  # fmt: skip
        git(hand, "commit", "-qam", "worse\n\nSia-Run: x\nSia-Generation: 9")
        git(hand, "push", "-q", "--force", str(origin), f"HEAD:refs/heads/sia/{run_id}")
        head = git(hand, "rev-parse", "HEAD").strip()
        _merge_ref(origin, tmp_path, f"sia/{run_id}", 1)
        _actions_checkout(origin, ws, 1)
        assert _run_steps(workflow, ws, home, gh.api, head) == 1
        [comment] = gh.comments[1]
        assert head[:10] in comment and "regression" in comment.lower()
    assert not (home / ".gitconfig").exists()  # nothing was configured behind the user's back
