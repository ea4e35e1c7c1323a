"""Hostile target agents are contained by the sandbox alone and score as failures.

The gates would stop most of these agents before they run; here they are switched off, so each
agent runs in the sandbox (bubblewrap, or the unshare fallback) and the trusted evaluator on the
built-in penguins task, to show that code which slips past the gates is still contained. The
whole pipeline, gates included, is tests/test_hostile_corpus.py. Network attempts target only a
loopback listener this test starts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sia_git.evolve.candidates import Outcome, try_candidate
from sia_git.evolve.environment import Attempt, RunEnvironment
from sia_git.sandbox import Limits, Sandbox, choose_backend
from sia_git.sandbox.cgroups import RunCgroup
from sia_git.tasks.layout import stage_dataset
from sia_git.tasks.task import resolve

HOSTILE = Path(__file__).parent / "hostile"
TASK = resolve("penguins", None)


def agent_source(name: str, **subs: str) -> bytes:
    text = (HOSTILE / "_common.py").read_text() + "\n" + (HOSTILE / f"{name}.py").read_text()
    for key, value in subs.items():
        text = text.replace(f"@@{key}@@", value)
    return text.encode()


def run_hostile(
    tmp_path: Path, name: str, limits: Limits | None = None, backend: str = "bwrap", **subs: str
) -> Outcome:
    chosen, warning = choose_backend(backend)
    if chosen != backend:
        pytest.skip(f"{backend} cannot run here: {warning}")
    backend = chosen
    sandbox = Sandbox(backend, TASK.manifest.agent.packages, TASK.manifest.agent.forbid_packages)
    dataset = stage_dataset(TASK, tmp_path / "dataset")
    env = RunEnvironment(TASK, sandbox, dataset, limits or Limits(timeout_s=20))
    return try_candidate(
        env, Attempt(1, {"target_agent.py": agent_source(name, **subs)}, tmp_path / "scratch", 0)
    )


BACKENDS = pytest.mark.parametrize("backend", ["bwrap", "unshare"])


def no_agent_processes() -> bool:
    found = subprocess.run(["pgrep", "-f", "agent/target_agent.py"], capture_output=True)
    return found.returncode == 1


@BACKENDS
def test_loopback_connection_is_blocked(
    tmp_path: Path, backend: str, listener: tuple[int, list[bytes]]
) -> None:
    port, connections = listener
    out = run_hostile(tmp_path, "net_loopback", backend=backend, PORT=str(port))
    assert connections == []
    assert out.status == "crashed"
    assert "Connection refused" in out.run.stderr_tail or "unreachable" in out.run.stderr_tail


@pytest.mark.parametrize("name", ["read_private", "walk_up_private"])
def test_private_answers_are_out_of_reach(tmp_path: Path, name: str) -> None:
    # walk_up_private walks every folder the sandbox shows: on a loaded machine that took
    # longer than the usual 20 s and ended timed out, not with the crash that shows it found
    # nothing (issue 32, item 10), so it gets room.
    limits = Limits(timeout_s=180)
    out = run_hostile(tmp_path, name, limits, PRIVATE=str(TASK.private_dir.resolve()))
    assert out.status == "crashed", out.reason
    assert out.evaluation is None


def test_writes_outside_the_working_dir_do_not_land(tmp_path: Path) -> None:
    outside = tmp_path / "escaped.txt"
    before = (TASK.public_dir / "train.csv").read_bytes()
    out = run_hostile(tmp_path, "write_outside", OUTSIDE=str(outside))
    assert out.status == "crashed"
    assert not outside.exists()
    assert (tmp_path / "dataset" / "train.csv").read_bytes() == before


@BACKENDS
def test_infinite_loop_is_killed_at_the_timeout(tmp_path: Path, backend: str) -> None:
    out = run_hostile(tmp_path, "infinite_loop", Limits(timeout_s=2), backend)
    assert out.status == "timed-out"
    assert out.run.duration_s < 15
    assert no_agent_processes()


@BACKENDS
def test_memory_bomb_is_stopped_by_the_memory_limit(tmp_path: Path, backend: str) -> None:
    out = run_hostile(tmp_path, "memory_bomb", Limits(timeout_s=30, memory_mb=512), backend)
    assert out.status == "crashed"
    assert "MemoryError" in out.run.stderr_tail or (out.run.exit_code or 0) < 0


@BACKENDS
def test_fork_bomb_is_stopped_by_the_process_limit(tmp_path: Path, backend: str) -> None:
    probe = RunCgroup(8)
    if "pids" in probe.missing():
        pytest.skip("no writable pids cgroup on this machine: the process cap cannot bind root")
    probe.remove()
    out = run_hostile(tmp_path, "fork_bomb", Limits(timeout_s=10, max_procs=32), backend)
    assert out.status in ("crashed", "timed-out")
    assert "fork refused after" in out.run.stderr_tail
    made = int(out.run.stderr_tail.split("fork refused after ")[1].split(":")[0])
    assert made < 32
    assert no_agent_processes()


@BACKENDS
def test_forged_results_json_is_never_trusted(tmp_path: Path, backend: str) -> None:
    out = run_hostile(tmp_path, "forge_results", backend=backend)
    assert out.status == "ok"
    assert out.score("dev") == 0.0
    assert any("results.json" in d for d in out.evaluation.dropped)


@BACKENDS
def test_symlinks_to_the_answer_key_are_not_followed(tmp_path: Path, backend: str) -> None:
    out = run_hostile(
        tmp_path, "symlink_answers", backend=backend, PRIVATE=str(TASK.private_dir.resolve())
    )
    assert out.score("dev") == 0.0
    assert sum("symlink" in d for d in out.evaluation.dropped) == 2


@BACKENDS
def test_api_keys_never_enter_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-canary-1234")
    monkeypatch.setenv("HF_TOKEN", "hf_canary")
    out = run_hostile(tmp_path, "env_secrets", backend=backend, TOKEN="canary")
    assert out.status == "crashed"
    assert "no secrets to steal" in out.run.stderr_tail


@BACKENDS
def test_background_processes_do_not_outlive_the_run(tmp_path: Path, backend: str) -> None:
    marker = "4242.4242"
    out = run_hostile(tmp_path, "background_process", backend=backend, TOKEN=marker)
    assert out.status == "ok"
    left = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True)
    assert left.returncode == 1, left.stdout


def test_data_source_package_is_not_importable(tmp_path: Path) -> None:
    pytest.importorskip("palmerpenguins", reason="the test extra installs the data source")
    out = run_hostile(tmp_path, "import_data_source")
    assert out.status == "crashed"
    assert "palmerpenguins" in out.run.stderr_tail


def test_stale_empty_cgroups_of_killed_runs_are_swept(tmp_path: Path) -> None:
    import os
    import time

    from sia_git.sandbox import cgroups

    probe = RunCgroup(8)
    if not probe.paths:
        pytest.skip("no writable cgroup on this machine")
    root = probe.paths[0].parent
    probe.remove()
    stale, fresh = root / "sia-git-stale0000000", root / "sia-git-fresh0000000"
    stale.mkdir()
    fresh.mkdir()
    old = time.time() - cgroups.STALE_CGROUP_S - 60
    os.utime(stale, (old, old))
    cgroups._sweep_stale.cache_clear()
    RunCgroup(8).remove()
    assert not stale.exists() and fresh.exists()
    fresh.rmdir()
