"""sia-git never runs a repository's git hooks: hooks planted in `.git/hooks`, in a
`core.hooksPath` folder and through the global git config stay silent through `evolve`, `eval`,
`revert` and `pr`, while a person's own `git commit` still runs them. And no git process it
starts sees an API key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.conftest import Runner, git, run_ids

pytestmark = pytest.mark.slow

HOOKS = [
    "pre-commit", "prepare-commit-msg", "commit-msg", "post-commit", "post-checkout",
    "post-merge", "pre-push", "reference-transaction", "post-rewrite", "pre-rebase",
    "pre-auto-gc", "post-index-change", "pre-merge-commit",
]  # fmt: skip


def _plant(folder: Path, log: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in HOOKS:
        hook = folder / name
        hook.write_text(f'#!/bin/sh\necho "{name} $OPENAI_API_KEY" >> {log}\nexit 0\n')
        hook.chmod(hook.stat().st_mode | stat.S_IXUSR)


def test_no_hook_runs_and_no_git_process_sees_a_key(tmp_path: Path, sia: Runner) -> None:
    from tests.conftest import make_repo

    repo = make_repo(tmp_path / "clean")  # `pr --merge` moves main: nothing uncommitted there
    log = tmp_path / "hooks-ran.log"
    _plant(repo / ".git" / "hooks", log)
    _plant(tmp_path / "elsewhere", log)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(f"[core]\n\thooksPath = {tmp_path / 'elsewhere'}\n")
    env = {"HOME": str(home), "OPENAI_API_KEY": "sk-canary-0123456789abcdef"}

    done = sia("evolve", "--task", "penguins", "--max-gen", "3", "--confirm-runs", "1",
               "--review", "run-pr", cwd=repo, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    [run_id] = run_ids(repo)
    assert sia("eval", f"sia/{run_id}", cwd=repo, env=env).returncode == 0
    assert sia("revert", "2", "--run", run_id, cwd=repo, env=env).returncode in (0, 2)
    done = sia("pr", "--mode", "run-pr", "--merge", cwd=repo, env=env)
    assert done.returncode == 0, done.stderr
    assert not log.exists(), log.read_text()

    # The hooks are live: a person's own commit runs them (sia-git changed no setting).
    git(repo, "config", "core.hooksPath", str(tmp_path / "elsewhere"))
    git(repo, "commit", "-qm", "a person's commit", "--allow-empty", env_extra=env)
    assert "pre-commit sk-canary" in log.read_text()


def test_childenv_drops_keys_and_turns_hooks_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from sia_git.core import childenv

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-canary-value")
    monkeypatch.setenv("MY_PROVIDER", "value-named-by-a-profile")
    monkeypatch.setenv("SSH_AUTH_SOCK", "/run/agent.sock")
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "user.name")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "Someone")
    childenv.mark_secret(["MY_PROVIDER"])
    env = childenv.scrubbed()
    assert "ANTHROPIC_API_KEY" not in env and "MY_PROVIDER" not in env
    assert env["SSH_AUTH_SOCK"] == "/run/agent.sock" and env["PATH"] == os.environ["PATH"]
    pairs = {
        env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"]
        for i in range(int(env["GIT_CONFIG_COUNT"]))
    }
    assert pairs == {"user.name": "Someone", "core.hooksPath": "/dev/null",
                     "core.fsmonitor": "false"}  # fmt: skip
