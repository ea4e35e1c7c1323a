"""Gates through the pre-commit framework: `sia-git hooks install` for people's commits, and
candidates gated with the repository's own hooks next to sia-git's. Everything is local:
pre-commit runs `repo: local` hooks only, and a remote hook points at a missing local path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sia_git.gates.precommit import CONFIG, CandidateGates, merged_config
from tests.conftest import GIT_ENV, Runner, git, run_ids

SAMPLES = Path(__file__).parent / "gate_samples"
TODO_CHECK = (
    "import sys; bad=[f for f in sys.argv[1:] if 'TODO' in open(f).read()]; "
    "print('TODO in', bad); sys.exit(1 if bad else 0)"
)
USER_HOOKS = f"""repos:
  - repo: local
    hooks:
      - id: no-todo
        name: no TODO markers
        entry: python -c "{TODO_CHECK}"
        language: system
        types: [python]
"""


def env_with_tools() -> dict[str, str]:
    return {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def commit(repo: Path, path: str, source: str) -> subprocess.CompletedProcess[str]:
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(source)
    git(repo, "add", path)
    return subprocess.run(
        ["git", "commit", "-qm", f"edit {path}"],
        cwd=repo,
        text=True,
        capture_output=True,
        env={**os.environ, **GIT_ENV, **env_with_tools()},
    )


def test_hooks_install_gates_a_persons_commits_and_keeps_their_hooks(
    repo: Path, sia: Runner
) -> None:
    mine = "# the team's hooks: keep this note\n" + USER_HOOKS
    (repo / CONFIG).write_text(mine)
    done = sia("hooks", "install", cwd=repo, env=env_with_tools())
    assert done.returncode == 0, done.stderr
    assert (repo / ".git" / "hooks" / "pre-commit").is_file()
    config = (repo / CONFIG).read_text()
    assert "no-todo" in config and "sia-git-gates" in config and "sia-git check" in config
    assert config.startswith(mine.rstrip("\n"))  # the user's file is kept as written
    git(repo, "add", CONFIG)

    bad = commit(
        repo, "sia-agent/agent/target_agent.py", (SAMPLES / "subprocess" / "flag.py").read_text()
    )
    assert bad.returncode != 0
    assert "sia-subprocess" in bad.stdout + bad.stderr
    good = commit(
        repo, "sia-agent/agent/target_agent.py", (SAMPLES / "subprocess" / "pass.py").read_text()
    )
    assert good.returncode == 0, good.stdout + good.stderr
    todo = commit(repo, "sia-agent/agent/target_agent.py", "x = 1  # TODO\n")
    assert todo.returncode != 0 and "TODO in" in todo.stdout + todo.stderr
    again = sia("hooks", "install", cwd=repo, env=env_with_tools())
    assert again.returncode == 0 and (repo / CONFIG).read_text().count("sia-git-gates") == 1


def test_a_candidate_meets_the_users_hooks_and_sia_gits(tmp_path: Path) -> None:
    gates = CandidateGates.for_run(
        USER_HOOKS, tmp_path / "cache", ["palmerpenguins"], scratch=tmp_path / "setup"
    )
    results = gates.check({"target_agent.py": b"import subprocess  # TODO\n"}, tmp_path / "c1")
    verdict = {r.name: r.passed for r in results}
    assert verdict == {
        "ruff": True,
        "bandit": True,
        "semgrep": False,
        "secrets": True,
        "hook:no-TODO-markers": False,
    }
    todo = next(r for r in results if r.name == "hook:no-TODO-markers")
    assert "TODO in ['sia-agent/agent/target_agent.py']" in todo.report
    clean = gates.check({"target_agent.py": b"x = 1\n"}, tmp_path / "c2")
    assert all(r.passed for r in clean) and len(clean) == 5


def test_evolve_runs_the_users_hooks_on_every_candidate(repo: Path, sia: Runner) -> None:
    (repo / CONFIG).write_text(USER_HOOKS)
    git(repo, "add", CONFIG)
    git(repo, "commit", "-qm", "add hooks")
    done = sia("evolve", "--task", "penguins", "--max-gen", "2", "--confirm-runs", "0", cwd=repo)
    assert done.returncode == 0, done.stderr
    [run_id] = run_ids(repo)
    gates = git(
        repo, "log", "-1", "--format=%(trailers:key=Sia-Gates,valueonly)", f"sia/{run_id}"
    ).strip()
    assert gates == ("ruff=pass bandit=pass semgrep=pass secrets=pass hook:no-TODO-markers=pass")


def test_a_hook_pre_commit_cannot_install_offline_is_a_setup_error(repo: Path, sia: Runner) -> None:
    missing = repo.parent / "no-such-hook-repo"
    (repo / CONFIG).write_text(
        f"repos:\n  - repo: file://{missing}\n    rev: v1\n    hooks:\n      - id: x\n"
    )
    git(repo, "add", CONFIG)
    git(repo, "commit", "-qm", "remote hook")
    done = sia("evolve", "--task", "penguins", "--max-gen", "1", cwd=repo)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "pre-commit cannot set up the hooks" in done.stderr


@pytest.mark.parametrize(
    "text, error", [("repos: [", "not valid YAML"), ("- a\n- b\n", "must be a mapping")]
)
def test_a_broken_user_config_is_named(text: str, error: str) -> None:
    from sia_git.core.errors import SiaError

    with pytest.raises(SiaError, match=error):
        merged_config(text, "sia-git check")
