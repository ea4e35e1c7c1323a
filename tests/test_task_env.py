"""Per-task Python environments: a task names what its agent imports (`packages`, or a
`requirements.txt` beside a SIA reference agent); what sia-git's own environment has at the asked
version is shown from there, the rest is installed once into an environment built for the task
(cached by requirement set) and shown read-only. Offline, the build installs from the wheel folder
in SIA_GIT_WHEELS; without one, a single line names every missing package and the fix.

The missing package is a wheel this test builds (no network), like a task's private dependency."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

import pytest

from sia_git.core.errors import SiaError
from sia_git.sandbox import Sandbox
from tests import siatask
from tests.conftest import Runner, git, run_ids
from tests.test_evolve import branch_commits, trailers

SHELL_AGENT = siatask.AGENT.replace(
    "import argparse\n",
    "import argparse\nimport subprocess\n\nimport openai\nimport pydantic\nimport tqdm\n"
    "import siatinydep\n",
).replace(
    '    print(f"predicted {len(preds)} passengers")',
    '    shell = subprocess.run("echo tool says hi", shell=True, capture_output=True, text=True)\n'
    '    print(f"predicted {len(preds)} passengers; {shell.stdout.strip()}; "\n'
    '          f"{siatinydep.GREETING} with openai {openai.__version__}")',
)


def make_wheel(folder: Path, name: str = "siatinydep", version: str = "1.0") -> Path:
    """A minimal pure-Python wheel, as `pip wheel` would make it."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b'GREETING = "hello from a task dependency"\n',
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: "
        b"py3-none-any\n",
    }
    record = [
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for path, data in files.items()
    ]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
    return wheel


def test_missing_packages_offline_are_one_line_naming_all_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "wheels").mkdir()
    monkeypatch.setenv("SIA_GIT_WHEELS", str(tmp_path / "wheels"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(SiaError) as err:
        Sandbox("bwrap", ["numpy", "siatinydep==1.0", "sianothere>=2"], [])
    line = str(err.value)
    assert "\n" not in line
    assert "siatinydep==1.0 'sianothere>=2'" in line and "numpy" not in line.split("(")[0]
    assert "pip install siatinydep==1.0 'sianothere>=2'" in line and "SIA_GIT_WHEELS" in line
    assert not list((tmp_path / "cache" / "sia-git" / "envs").glob("[!.]*"))


@pytest.mark.slow
def test_a_sia_task_with_requirements_and_a_shell_tool_runs_in_its_own_environment(
    tmp_path: Path, repo: Path, sia: Runner
) -> None:
    task = siatask.make(
        tmp_path / "passengers",
        task_toml='[agent]\nallow_rules = ["B602", "B404", "sia-subprocess"]\n',
    )
    (task / "reference" / "reference_target_agent.py").write_text(SHELL_AGENT)
    (task / "reference" / "requirements.txt").write_text(
        "# what the reference agent imports\nopenai\npydantic>=2\ntqdm\nsiatinydep==1.0\n"
    )
    make_wheel(tmp_path / "wheels")
    cache = tmp_path / "cache"
    env = {"SIA_GIT_WHEELS": str(tmp_path / "wheels"), "XDG_CACHE_HOME": str(cache)}
    done = sia("evolve", "--task-dir", str(task), "--max-gen", "1", cwd=repo, env=env)
    assert done.returncode == 0, done.stderr
    [run_id] = run_ids(repo)
    [gen1] = branch_commits(repo, run_id)
    t = trailers(repo, gen1)
    assert "semgrep=pass(allowed:sia-subprocess)" in t["Sia-Gates"], t["Sia-Gates"]
    stdout = git(repo, "show", f"refs/sia/{run_id}/attempts/g0001:c0/stdout.txt")
    assert "tool says hi; hello from a task dependency with openai" in stdout
    [built] = [p for p in (cache / "sia-git" / "envs").iterdir() if not p.name.startswith(".")]
    assert (built / "siatinydep").is_dir() and not (built / "openai").exists()
    stamp = (built / ".sia-complete").stat().st_mtime_ns
    again = sia("evolve", "--task-dir", str(task), "--max-gen", "1", cwd=repo, env=env)
    assert again.returncode == 0, again.stderr
    assert (built / ".sia-complete").stat().st_mtime_ns == stamp  # reused, not rebuilt


def test_sia_trajectories_are_the_traces_and_decoys_do_not_crowd_them_out(tmp_path: Path) -> None:
    from sia_git.evolve.candidates import TRACE_FILES, collect_traces

    work = tmp_path / "sandbox" / "work"
    (work / "aaa").mkdir(parents=True)
    for i in range(3 * TRACE_FILES):
        (work / "aaa" / f"trace-{i:03d}.jsonl").write_text("{}\n")
    (work / "agent_execution.json").write_text('{"steps": 3}')
    (work / "agent_execution").mkdir()
    (work / "agent_execution" / "execution_q1.json").write_text('{"q": 1}')
    (tmp_path / "sandbox" / "stdout.txt").write_text("out")
    traces, dropped = collect_traces(tmp_path / "sandbox")
    assert {
        "stdout.txt",
        "work/agent_execution.json",
        "work/agent_execution/execution_q1.json",
    } <= (set(traces))
    assert len(traces) <= TRACE_FILES + 2 and dropped == 3 * TRACE_FILES + 2 - len(traces) + 1


def test_a_sia_tasks_own_samples_go_to_the_meta_agent(tmp_path: Path) -> None:
    from sia_git.agents.meta import _task_samples
    from sia_git.tasks.task import resolve

    task = resolve(None, siatask.make(tmp_path / "passengers"))
    assert _task_samples(task) == ["# Samples\n\nA tabular task."]


def test_the_install_line_for_a_missing_package_is_quoted_for_the_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pip install pkg>=1` unquoted is a shell redirect to a file named `=1` (issue 32, 10)."""
    from sia_git.sandbox import environments

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "wheels").mkdir()  # offline: an empty wheel folder, nothing is fetched
    monkeypatch.setenv(environments.WHEELS_ENV, str(tmp_path / "wheels"))
    with pytest.raises(SiaError) as caught:
        environments.build(["nosuchpkg-for-sia-tests>=1"])
    assert "`pip install 'nosuchpkg-for-sia-tests>=1'`" in str(caught.value)
