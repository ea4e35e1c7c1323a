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
    done = sia("init", "--ci", "github", "--sia-git-from", "==0.1.0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    workflow = yaml.safe_load((tmp_path / WORKFLOW).read_text())
    assert "pull_request_target" in workflow[True]  # YAML 1.1 reads the key `on` as true
    assert "startsWith(github.head_ref, 'sia/')" in workflow["jobs"]["eval"]["if"]
    assert "secrets.SIA_TASK_PRIVATE" in (tmp_path / WORKFLOW).read_text()
    calls = _sia_calls(workflow)
    assert calls and calls[0][1] == "eval"
    for call in calls:
        command = cli.get_command(click.Context(cli), call[1])
        known = {o for p in command.params if isinstance(p, click.Option) for o in p.opts}
        flags = [a for a in call[2:] if a.startswith("--")]
        assert set(flags) <= known, set(flags) - known
    again = sia("init", "--ci", "github", "--sia-git-from", "==0.1.0", cwd=tmp_path)
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


def _actions_checkout(origin: Path, ws: Path, base_sha: str) -> None:
    """What actions/checkout@v4 does for a pull_request_target event with `ref: <base sha>`
    and fetch-depth 0: a fresh repository, every branch fetched, the base branch's commit
    checked out detached. The pull request's head is not fetched (the workflow's next step
    fetches it as objects). No identity is configured."""
    if ws.exists():
        shutil.rmtree(ws)
    ws.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}

    def run(*a: str) -> None:
        subprocess.run(["git", *a], cwd=ws, check=True, capture_output=True, env=env)

    run("init", "-q")
    run("remote", "add", "origin", str(origin))
    run("fetch", "-q", "--prune", "--no-recurse-submodules", "origin",
        "+refs/heads/*:refs/remotes/origin/*")  # fmt: skip
    run("checkout", "-q", "--force", base_sha)


def _pull_ref(origin: Path, head_sha: str, number: int) -> None:
    """GitHub's refs/pull/N/head: the pull request's head commit, on the base repository."""
    subprocess.run(["git", "--git-dir", str(origin), "update-ref", f"refs/pull/{number}/head",
                    head_sha], check=True)  # fmt: skip


def _run_steps(
    workflow: dict, ws: Path, home: Path, gh_api: str, shas: tuple[str, str]
) -> subprocess.CompletedProcess[str]:
    """The steps after the checkout, but the install, as the runner runs them: bash -e,
    ${{ }} filled in, the GITHUB_ENV file read between steps. The last step's result."""
    head_sha, base_sha = shas
    github_env = ws.parent / "github_env"
    github_env.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    path = f"{Path(sys.executable).parent}:{env['PATH']}"
    env |= {"HOME": str(home), "GITHUB_ENV": str(github_env), "GITHUB_REPOSITORY": "me/project",
            "GITHUB_API_URL": gh_api, "PATH": path}  # fmt: skip
    fill = {"github.event.pull_request.head.sha": head_sha,
            "github.event.pull_request.base.sha": base_sha,
            "github.event.pull_request.number": "1", "secrets.SIA_TASK_PRIVATE": "",
            "github.token": TOKEN}  # fmt: skip
    done = subprocess.CompletedProcess([], 0, "", "")
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
        if done.returncode != 0:
            break
    return done


@pytest.mark.slow
def test_the_workflow_runs_as_actions_runs_it(tmp_path: Path, sia: Runner) -> None:
    """`init --ci github`'s workflow on a pull request from a run branch, reproduced as GitHub
    Actions runs a pull_request_target workflow (the base branch checked out detached,
    fetch-depth 0, the pull request's head fetched as objects only, no git identity, an empty
    HOME) with the steps' own commands and the GitHub API served by tests/fakegithub.py (it
    stands in for GitHub): the eval passes and comments; a second push updates the one
    comment; a regression fails the job; a head that rewrites the task copy's evaluator and
    hooks still gets its honest score, and the comment names what it tried."""
    from tests.conftest import make_repo
    from tests.fakegithub import FakeGitHub

    user = make_repo(tmp_path / "user")
    version = __import__("sia_git").__version__
    assert sia("init", "--ci", "github", "--sia-git-from", f"=={version}", cwd=user).returncode == 0
    text = (user / WORKFLOW).read_text()
    assert "{{requirement}}" not in text and f'sia-git=={version}"' in text
    assert "apt-get update" in text and "pull_request_target" in text
    workflow = yaml.safe_load(text)
    # The base branch names the task the pull requests are scored with.
    (user / "sia-git.toml").write_text('task = "penguins"\n')
    git(user, "add", ".github", "sia-git.toml")
    git(user, "commit", "-qm", "CI")
    base = git(user, "rev-parse", "HEAD").strip()
    evolve = ("evolve", "--task", "penguins", "--confirm-runs", "0")
    assert sia(*evolve, "--max-gen", "2", cwd=user).returncode == 0
    [run_id] = run_ids(user)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(user), str(origin)], check=True)
    home, ws = tmp_path / "home", tmp_path / "ws"
    home.mkdir()

    def job(head: str) -> subprocess.CompletedProcess[str]:
        _pull_ref(origin, head, 1)
        _actions_checkout(origin, ws, base)
        return _run_steps(workflow, ws, home, gh.api, (head, base))

    with FakeGitHub("me/project", origin, TOKEN) as gh:
        gh.route("POST", "/repos/me/project/pulls", {}, {"title": "run", "head": f"sia/{run_id}",
                                                          "base": "main"})  # fmt: skip
        heads: list[str] = []
        for push in range(2):
            if push:  # a later push: one more generation on the run branch
                assert sia("evolve", "--run", run_id, "--max-gen", "6", cwd=user).returncode == 0
                git(user, "push", "-q", "--force", str(origin), f"sia/{run_id}")
            head = git(user, "rev-parse", f"sia/{run_id}").strip()
            done = job(head)
            assert done.returncode == 0, done.stdout + done.stderr
            [comment] = gh.comments[1]  # one comment, created then updated
            assert "sia-git eval" in comment and head[:10] in comment
            assert "ignored" not in comment  # an untouched run: nothing to ignore
            heads.append(head)
        assert len(set(heads)) == 2, "the second push should bring a new generation"

        # A regression: a hand-made generation whose agent is worse, and which also rewrites
        # the task copy's evaluator (one that says 1.0), its settings and the hooks.
        hand = tmp_path / "hand"
        git(user, "worktree", "add", "-q", "--detach", str(hand), f"sia/{run_id}")
        agent = hand / "sia-agent" / "agent" / "target_agent.py"
        agent.write_text(agent.read_text().replace('"model": "knn"', '"model": "majority"')
                         .replace('"model": "threshold"', '"model": "majority"'))  # fmt: skip
        _plant_evaluator(hand, tmp_path / "hooked")
        git(hand, "add", "-A")
        git(hand, "commit", "-qm", "worse\n\nSia-Run: x\nSia-Generation: 9")
        git(hand, "push", "-q", "--force", str(origin), f"HEAD:refs/heads/sia/{run_id}")
        head = git(hand, "rev-parse", "HEAD").strip()
        done = job(head)
        assert done.returncode == 1, done.stdout + done.stderr
        [comment] = gh.comments[1]
        assert head[:10] in comment and "regression" in comment.lower()
        for named in ("sia-agent/task/: evil.py, task.toml", "sandbox = 'none'",
                      ".pre-commit-config.yaml"):  # fmt: skip
            assert named in comment, comment
        assert not (tmp_path / "hooked").exists()  # the head's hook never ran
    assert not (home / ".gitconfig").exists()  # nothing was configured behind the user's back


def _plant_evaluator(work: Path, marker: Path) -> None:
    """What a hostile pull request changes besides its agent: the task copy's evaluator (one
    that scores everything 1.0), run.toml's sandbox, and a `language: system` hook."""
    task = work / "sia-agent" / "task"
    (task / "evil.py").write_text(
        "import argparse, json\np = argparse.ArgumentParser()\n"
        "for a in ('--predictions', '--answers', '--split', '--output'):\n"
        "    p.add_argument(a)\n"
        "a = p.parse_args()\nopen(a.output, 'w').write(json.dumps({'score': 1.0}))\n"
    )
    toml = task / "task.toml"
    toml.write_text(toml.read_text().replace('builtin = "accuracy"', 'path = "evil.py"'))
    run_toml = work / "sia-agent" / "run.toml"
    run_toml.write_text(run_toml.read_text().replace('sandbox = "bwrap"', 'sandbox = "none"'))
    (work / ".pre-commit-config.yaml").write_text(
        "repos:\n- repo: local\n  hooks:\n  - id: own\n    name: own\n"
        f"    entry: touch {marker}\n    language: system\n    pass_filenames: false\n"
        "    always_run: true\n"
    )


def test_the_workflow_installs_sia_git_from_a_source_the_runner_can_reach(
    tmp_path: Path, sia: Runner
) -> None:
    """This sia-git was installed from a folder (editable here, `pip install .` in CI), which a
    CI runner cannot reach: `init --ci github` refuses in one line naming --sia-git-from. A git
    URL or a version given there is what the workflow installs, with and without torch."""
    done = sia("init", "--ci", "github", cwd=tmp_path)
    assert done.returncode == 2 and "--sia-git-from" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / WORKFLOW).exists()
    url = "git+https://github.com/OWNER/sia-git@v0.1.0"
    done = sia("init", "--ci", "github", "--sia-git-from", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / WORKFLOW).read_text()
    assert f'pip install "sia-git @ {url}"' in text
    assert f'pip install "sia-git[weights] @ {url}"' in text
    assert "--index-url https://download.pytorch.org/whl/cpu" in text
    for bad in ("/home/me/sia-git", "file:///tmp/x.whl", 'x" && rm -rf ~ "'):
        refused = sia("init", "--ci", "github", "--dir", str(tmp_path / "other"),
                      "--sia-git-from", bad, cwd=tmp_path)  # fmt: skip
        assert refused.returncode == 2 and "--sia-git-from" in refused.stderr, refused.stderr


def test_the_default_source_is_where_this_sia_git_came_from() -> None:
    """PEP 610's direct_url.json: none (a package index) gives the same version from there; a
    git install gives its URL at the commit installed; a wheel's https URL itself."""
    from sia_git import __version__
    from sia_git.commands.ci_source import _from_direct_url
    from sia_git.core.errors import SiaError

    assert _from_direct_url(None) == f"=={__version__}"
    vcs = {"url": "https://github.com/o/sia-git", "vcs_info": {"vcs": "git", "commit_id": "abc1"}}
    assert _from_direct_url(vcs) == " @ git+https://github.com/o/sia-git@abc1"
    wheel = {"url": "https://x.org/sia_git-0.1.0-py3-none-any.whl", "archive_info": {}}
    assert _from_direct_url(wheel) == " @ https://x.org/sia_git-0.1.0-py3-none-any.whl"
    with pytest.raises(SiaError, match="--sia-git-from"):
        _from_direct_url({"url": "file:///work/sia-git", "dir_info": {"editable": True}})
