"""Bad input gets one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from sia_git.task import resolve
from tests.conftest import Runner, git, make_repo

Setup = Callable[[Path], tuple[Path, list[str]]]


def _repo(tmp: Path) -> Path:
    return make_repo(tmp / "r")


def _task_copy(tmp: Path, edit: Callable[[Path], None]) -> Path:
    dest = tmp / "task"
    shutil.copytree(resolve("penguins", None).root, dest)
    edit(dest)
    return dest


def _evaluator(body: str, timeout_s: int = 60) -> Setup:
    """A copy of the penguins task whose evaluator is replaced by `body`."""

    def setup(tmp: Path) -> tuple[Path, list[str]]:
        def edit(t: Path) -> None:
            (t / "evaluate.py").write_text(body)
            toml = (t / "task.toml").read_text().replace('builtin = "accuracy"',
                                                         'path = "evaluate.py"')
            toml = toml.replace("timeout_s = 60\n\n[layout]",
                                f"timeout_s = {timeout_s}\n\n[layout]")
            (t / "task.toml").write_text(toml)

        return _repo(tmp), ["evolve", "--task-dir", str(_task_copy(tmp, edit))]

    return setup


def _with_file(name: str, text: str, *args: str) -> Setup:
    def setup(tmp: Path) -> tuple[Path, list[str]]:
        repo = _repo(tmp)
        (repo / name).write_text(text)
        return repo, list(args)

    return setup


def _bare(tmp: Path) -> tuple[Path, list[str]]:
    subprocess.run(["git", "init", "-q", "--bare", str(tmp / "b")], check=True)
    return tmp / "b", ["evolve", "--task", "penguins"]


def _empty(tmp: Path) -> tuple[Path, list[str]]:
    subprocess.run(["git", "init", "-q", str(tmp / "e")], check=True)
    return tmp / "e", ["evolve", "--task", "penguins"]


def _tracked_private(tmp: Path) -> tuple[Path, list[str]]:
    repo = _repo(tmp)
    shutil.copytree(resolve("penguins", None).root, repo / "mytask")
    git(repo, "add", "mytask")
    git(repo, "commit", "-qm", "oops, answers committed")
    return repo, ["evolve", "--task-dir", "mytask"]


def _broken_agent(tmp: Path) -> tuple[Path, list[str]]:
    repo = _repo(tmp)
    (tmp / "broken.py").write_text("print(undefined)\n")
    return repo, ["evolve", "--task", "penguins", "--agent", str(tmp / "broken.py")]


def _plain(*args: str) -> Setup:
    return lambda tmp: (_repo(tmp), list(args))


def _not_repo(tmp: Path) -> tuple[Path, list[str]]:
    return tmp, ["evolve", "--task", "penguins"]


def _existing_dir(tmp: Path) -> tuple[Path, list[str]]:
    repo = _repo(tmp)
    (repo / "mine").mkdir()
    (repo / "mine" / "x").write_text("keep me")
    return repo, ["init", "--task", "mine"]


CASES: dict[str, tuple[Setup, str]] = {
    "not a git repo": (_not_repo, "not a git repository"),
    "bare repo": (_bare, "is a bare repository"),
    "repo without commits": (_empty, "has no commits yet"),
    "unknown task": (_plain("evolve", "--task", "nope"), "unknown task 'nope'"),
    "no task given": (_plain("evolve"), "give exactly one of --task"),
    "task and task-dir": (_plain("evolve", "--task", "penguins", "--task-dir", "."),
                          "give exactly one of --task"),
    "missing task dir": (_plain("evolve", "--task-dir", "nowhere"), "task directory not found"),
    "dir that is not a task": (_plain("evolve", "--task-dir", "."), "not a task"),
    "malformed task.toml": (
        lambda tmp: (_repo(tmp), ["evolve", "--task-dir", str(_task_copy(
            tmp, lambda t: (t / "task.toml").write_text("name = [")))]),
        "task.toml: invalid TOML"),
    "task.toml unknown key": (
        lambda tmp: (_repo(tmp), ["evolve", "--task-dir", str(_task_copy(
            tmp, lambda t: (t / "task.toml").write_text('name = "x"\nmetrc = 1\n')))]),
        "task.toml: metrc"),
    "evaluator crash": (_evaluator("raise RuntimeError('evaluator bug')\n"),
                        "RuntimeError: evaluator bug"),
    "evaluator hangs": (_evaluator("import time\ntime.sleep(60)\n", timeout_s=1),
                        "timed out after 1s"),
    "evaluator prints garbage": (
        _evaluator("import sys\nopen(sys.argv[-1], 'w').write('lol')\n"), "is not JSON"),
    "private answers committed": (_tracked_private, "private answers are committed"),
    "unknown config key": (_with_file("sia-git.toml", "max_gens = 2\n", "evolve", "--task",
                                      "penguins"), "sia-git.toml: max_gens: unknown key"),
    "bad config value": (_with_file("pyproject.toml", "[tool.sia-git]\nworkers = 0\n", "evolve",
                                    "--task", "penguins"), "[tool.sia-git]: workers"),
    "invalid sia-git.toml": (_with_file("sia-git.toml", "x = [", "evolve", "--task", "penguins"),
                             "sia-git.toml: invalid TOML"),
    "--max-gen 0": (_plain("evolve", "--task", "penguins", "--max-gen", "0"),
                    "--max-gen: Input should be greater than or equal to 1"),
    "--candidates 0": (_plain("evolve", "--task", "penguins", "--candidates", "0"),
                       "--candidates"),
    "unknown sandbox": (_plain("evolve", "--task", "penguins", "--sandbox", "docker"),
                        "--sandbox"),
    "missing --agent file": (_plain("evolve", "--task", "penguins", "--agent", "nope.py"),
                             "--agent: no such file"),
    "--agent that fails the gate": (_broken_agent,
                                    "failed its gates: ruff: target_agent.py:1: F821"),
    "unknown run": (_plain("evolve", "--run", "nope"), "unknown run 'nope'"),
    "changing task on resume": (_plain("evolve", "--run", "x", "--task", "penguins"),
                                "cannot be changed when resuming"),
    "log without runs": (_plain("log"), "no sia-git runs in this repository"),
    "show without runs": (_plain("show", "2"), "no sia-git runs in this repository"),
    "log of unknown run": (_plain("log", "--run", "nope"), "unknown run 'nope'"),
    "init without a name": (_plain("init"), "pass --task NAME"),
    "init with a bad name": (_plain("init", "--task", "a/b"), "must be letters"),
    "init into a non-empty dir": (_existing_dir, "already exists and is not empty"),
    "status outside a repo": (lambda tmp: (tmp, ["status"]), "not a git repository"),
    "model litellm cannot route": (_plain("evolve", "--task", "penguins", "--model", "nonsense"),
                                   "--model: litellm cannot call model 'nonsense'"),
    "key variable not set": (_plain("evolve", "--task", "penguins", "--model", "openai/x",
                                    "--api-key-env", "SIA_SURELY_UNSET_KEY"),
                             "SIA_SURELY_UNSET_KEY (its api_key_env) is not set"),
    "api base without a model": (_plain("evolve", "--task", "penguins", "--api-base",
                                        "http://127.0.0.1:9/v1"), "name the model too"),
    "negative budget": (_plain("evolve", "--task", "penguins", "--model", "openai/x",
                               "--budget-usd", "-1"), "--budget-usd"),
    "bad key variable name": (_plain("evolve", "--task", "penguins", "--model", "openai/x",
                                     "--api-key-env", "sk-123"), "--api-key-env"),
    "typo in a model profile": (_with_file("sia-git.toml",
                                           '[profiles.local]\nmodel = "openai/a"\napi_kye = 1\n',
                                           "evolve", "--task", "penguins", "--model", "local"),
                                "profiles.local.api_kye: unknown key"),
    "bad profile value": (_with_file("sia-git.toml",
                                     '[profiles.local]\nmodel = "openai/a"\ntemperature = 9\n',
                                     "evolve", "--task", "penguins", "--model", "local"),
                          "profiles.local.temperature"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gets_one_clear_line(tmp_path: Path, sia: Runner, case: str) -> None:
    setup, expected = CASES[case]
    cwd, args = setup(tmp_path)
    done = sia(*args, cwd=cwd, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("sia-git: error: ")
    assert expected in lines[0]
