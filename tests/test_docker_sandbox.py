"""`--sandbox docker`, for real, against podman's Docker-compatible service, which this module
starts on a Unix socket in a temporary folder (with the runc runtime) and stops at the end.
Where podman or runc is not installed (`apt install podman runc`), every test here skips and
says why. The image is imported from a tarball by sia-git: nothing is pulled."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from sia_git.evolve.candidates import try_candidate
from sia_git.evolve.environment import Attempt, RunEnvironment
from sia_git.gateway.server import Gateway
from sia_git.llm.budget import Budget
from sia_git.llm.client import ModelClient
from sia_git.llm.profiles import ModelProfile
from sia_git.sandbox import Limits, RunSpec, Sandbox, choose_backend
from sia_git.tasks.layout import stage_dataset
from sia_git.tasks.task import resolve
from tests.conftest import Runner, run_ids
from tests.fakellm import FakeLLM, text

pytestmark = pytest.mark.slow
TASK = resolve("penguins", None)
HOSTILE = Path(__file__).parent / "hostile"


def run_agent(
    tmp_path: Path, source: str, limits: Limits | None = None, gateway: Path | None = None
):  # noqa: ANN201
    sandbox = Sandbox("docker", TASK.manifest.agent.packages, TASK.manifest.agent.forbid_packages)
    agent = tmp_path / "agent"
    agent.mkdir(parents=True, exist_ok=True)
    (agent / "target_agent.py").write_text(source)
    dataset = stage_dataset(TASK, tmp_path / "dataset")
    return sandbox.run(
        RunSpec(agent, dataset, tmp_path / "run", limits or Limits(timeout_s=60), gateway=gateway)
    )


def hostile(name: str, **subs: str) -> str:
    text_ = (HOSTILE / "_common.py").read_text() + "\n" + (HOSTILE / f"{name}.py").read_text()
    for key, value in subs.items():
        text_ = text_.replace(f"@@{key}@@", value)
    return text_


def test_choose_backend_finds_the_engine(engine: str) -> None:
    assert choose_backend("docker") == ("docker", None)


def test_the_reference_agent_runs_and_scores(engine: str, tmp_path: Path) -> None:
    sandbox = Sandbox("docker", TASK.manifest.agent.packages, TASK.manifest.agent.forbid_packages)
    dataset = stage_dataset(TASK, tmp_path / "dataset")
    out = try_candidate(
        RunEnvironment(TASK, sandbox, dataset, Limits(timeout_s=60)),
        Attempt(0, {"target_agent.py": TASK.reference_agent.read_bytes()}, tmp_path / "c", 0),
    )
    assert out.ok, (out.status, out.reason)
    assert out.run.backend == "docker" and out.score("dev") == pytest.approx(0.675)


def test_no_network_read_only_root_no_private_answers(
    engine: str, tmp_path: Path, listener: tuple[int, list[bytes]]
) -> None:
    port, got = listener
    probe = f'''
import importlib.util, json, os, socket, sys
wd = sys.argv[sys.argv.index("--working_dir") + 1]
out = {{}}
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2)
    out["net"] = "connected"
except OSError as exc:
    out["net"] = str(exc)
for name, path in (("root", "/escaped.txt"), ("dataset", "/sia/dataset/x.txt")):
    try:
        open(path, "w").write("x")
        out[name] = "written"
    except OSError as exc:
        out[name] = str(exc)
out["private"] = os.path.exists("{TASK.private_dir.resolve()}")
out["numpy"] = importlib.util.find_spec("numpy") is not None
out["palmerpenguins"] = importlib.util.find_spec("palmerpenguins") is not None
out["env"] = sorted(os.environ)
json.dump(out, open(os.path.join(wd, "probe.json"), "w"))
'''
    os.environ["OPENAI_API_KEY"] = "sk-docker-canary-0123456789"
    try:
        result = run_agent(tmp_path, probe)
    finally:
        os.environ.pop("OPENAI_API_KEY")
    assert result.ok, result.stderr_tail
    seen = json.loads((tmp_path / "run" / "work" / "probe.json").read_text())
    assert seen["net"] != "connected" and not got
    assert "Read-only file system" in seen["root"] and "Read-only" in seen["dataset"]
    assert seen["private"] is False
    assert seen["numpy"] is True and seen["palmerpenguins"] is False
    assert "OPENAI_API_KEY" not in seen["env"]


def test_timeout_memory_and_process_limits(engine: str, tmp_path: Path) -> None:
    slow = run_agent(tmp_path / "a", hostile("infinite_loop"), Limits(timeout_s=3))
    assert slow.timed_out and slow.duration_s < 20
    bomb = run_agent(tmp_path / "b", hostile("memory_bomb"), Limits(timeout_s=30, memory_mb=256))
    assert not bomb.ok
    forks = run_agent(tmp_path / "c", hostile("fork_bomb"), Limits(timeout_s=10, max_procs=32))
    assert not forks.ok and "fork refused after" in forks.stderr_tail
    made = int(forks.stderr_tail.split("fork refused after ")[1].split(":")[0])
    assert made < 32
    left = subprocess.run(
        ["podman", "ps", "-q", "--filter", "label=sia-git.owner-pid"],
        capture_output=True,
        text=True,
    )
    assert left.stdout.strip() == ""


def test_the_gateway_reaches_into_the_container(engine: str, tmp_path: Path) -> None:
    agent = (
        "import os, sys, sia_gateway\nwd = sys.argv[sys.argv.index('--working_dir') + 1]\n"
        "open(os.path.join(wd, 'a.txt'), 'w').write(sia_gateway.chat('ping'))\n"
    )
    with FakeLLM(lambda body, n: text("pong")) as llm:
        profile = ModelProfile(model="openai/gpt-4o-mini", api_base=llm.api_base)
        with Gateway(ModelClient(profile, Budget(None)), tmp_path / "gw.jsonl") as gw:
            result = run_agent(tmp_path, agent, gateway=gw.socket)
    assert result.ok, result.stderr_tail
    assert (tmp_path / "run" / "work" / "a.txt").read_text() == "pong"
    assert len((tmp_path / "gw.jsonl").read_text().splitlines()) == 1


def test_evolve_with_the_docker_sandbox(engine: str, repo: Path, sia: Runner) -> None:
    done = sia("evolve", "--task", "penguins", "--max-gen", "2", "--sandbox", "docker", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "sandbox docker" in done.stdout
    assert len(run_ids(repo)) == 1


def test_no_engine_is_one_clear_line(repo: Path, sia: Runner, tmp_path: Path) -> None:
    done = sia(
        "evolve",
        "--task",
        "penguins",
        "--sandbox",
        "docker",
        cwd=repo,
        env={"DOCKER_HOST": f"unix://{tmp_path}/nothing.sock"},
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "no Docker engine answers at unix://" in done.stderr
