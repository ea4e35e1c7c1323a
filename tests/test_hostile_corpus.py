"""Every hostile agent in tests/hostile/ through the whole candidate pipeline: the gates (through
pre-commit), the sandbox, the trusted evaluator. Each is stopped at the gate or contained by the
sandbox, scores as a failure, and leaves nothing behind: no stray process, no connection, no
change to the task, its evaluator, the repository or anything outside its working dir.

The task is a copy in a temporary folder (with its own evaluator file), so an escape could only
ever damage the copy. Network attempts target a loopback listener this test starts.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from sia_git.core.resources import evaluator_script
from sia_git.evolve.candidates import try_candidate
from sia_git.evolve.environment import Attempt, RunEnvironment
from sia_git.gates.precommit import CandidateGates
from sia_git.sandbox import Limits, Sandbox, choose_backend
from sia_git.tasks.layout import stage_dataset
from sia_git.tasks.task import resolve
from tests.conftest import make_repo

pytestmark = pytest.mark.slow
HOSTILE = Path(__file__).parent / "hostile"
AGENTS = sorted(p.stem for p in HOSTILE.glob("*.py") if not p.name.startswith("_"))
TOKEN = "hostilecanary7731"
# These slip past the gates on purpose (computed names, encoded paths, plain resource abuse):
# the sandbox alone must contain them. Every other agent must be stopped at the gate.
PAST_THE_GATES = {
    "dynamic_socket",
    "huge_output",
    "import_data_source",
    "infinite_loop",
    "memory_bomb",
    "obfuscated_private",
    "sleep_past_timeout",
}


def test_the_corpus_is_large_enough() -> None:
    assert len(AGENTS) >= 20, AGENTS


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.mark.parametrize("name", AGENTS)
def test_hostile_agent_is_stopped_or_contained_and_leaves_nothing(
    tmp_path: Path, name: str, listener: tuple[int, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, connections = listener
    monkeypatch.setenv("OPENAI_API_KEY", f"sk-{TOKEN}-abcdefghijklmnop")
    monkeypatch.setenv("HF_TOKEN", f"hf_{TOKEN}")
    task_dir = tmp_path / "task"
    shutil.copytree(resolve("penguins", None).root, task_dir)
    shutil.copy(evaluator_script("accuracy"), task_dir / "evaluate.py")
    toml = (
        (task_dir / "task.toml").read_text().replace('builtin = "accuracy"', 'path = "evaluate.py"')
    )
    (task_dir / "task.toml").write_text(toml)
    task = resolve(None, task_dir)
    repo = make_repo(tmp_path / "repo")
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "credentials").write_text(f"token={TOKEN}\n")
    private = str(task.private_dir.resolve())
    subs = {
        "PORT": str(port),
        "PRIVATE": private,
        "PRIVATE_HEX": private.encode().hex(),
        "OUTSIDE": str(outside / "escaped.txt"),
        "OUTSIDE_DIR": str(outside),
        "TOKEN": TOKEN,
        "KEYFILE": str(tmp_path / "keys" / "credentials"),
        "EVALUATOR": str(task_dir / "evaluate.py"),
        "TASKDIR": str(task_dir),
        "GITDIR": str(repo / ".git"),
    }
    source = (HOSTILE / "_common.py").read_text() + "\n" + (HOSTILE / f"{name}.py").read_text()
    for key, value in subs.items():
        source = source.replace(f"@@{key}@@", value)
    assert "@@" not in source, f"{name} has a placeholder this test does not fill"

    before = {
        "task": tree_digest(task_dir),
        "git": tree_digest(repo / ".git"),
        "outside": tree_digest(outside),
    }
    backend, _ = choose_backend("bwrap")
    a = task.manifest.agent
    sandbox = Sandbox(backend, a.packages, a.forbid_packages)
    dataset = stage_dataset(task, tmp_path / "dataset")
    staged = tree_digest(dataset)
    gates = CandidateGates.for_run(
        None, tmp_path / "cache", a.forbid_packages, scratch=tmp_path / "setup"
    )
    limits = Limits(timeout_s=5, memory_mb=512, max_procs=32, file_size_mb=64)
    out = try_candidate(
        RunEnvironment(task, sandbox, dataset, limits, gates=gates),
        Attempt(1, {"target_agent.py": source.encode()}, tmp_path / "scratch", 0),
    )

    assert not out.ok, f"{name} was scored: {out.reason}"
    assert out.status in ("gate-failed", "crashed", "timed-out", "eval-failed"), out.status
    assert connections == []
    assert {
        "task": tree_digest(task_dir),
        "git": tree_digest(repo / ".git"),
        "outside": tree_digest(outside),
    } == before
    assert tree_digest(dataset) == staged
    left = subprocess.run(["pgrep", "-f", str(tmp_path / "scratch")], capture_output=True)
    assert left.returncode == 1, left.stdout
    if name in PAST_THE_GATES:
        assert out.status in ("crashed", "timed-out"), (out.status, out.reason)
        assert out.gates and all(g.passed for g in out.gates)
    else:
        assert out.status == "gate-failed", (out.status, out.reason)
        assert out.run is None, "a gated agent must never run"
