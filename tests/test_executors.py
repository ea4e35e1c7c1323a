"""`--executor ray`: candidates run as Ray tasks on a local Ray instance (started by the run on
127.0.0.1 and shut down with it), each in its sandbox on the worker, with the same results as
the default executor."""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from sia_git.core.errors import SiaError
from sia_git.evolve import archives, executors
from tests.conftest import Runner, git, make_repo, run_ids
from tests.test_archives import _archive

pytest.importorskip("ray", reason="the ray extra: pip install 'sia-git[ray]'")


def candidates(repo: Path) -> dict[tuple[int, int], dict[str, Any]]:
    """Every candidate of the repository's run: (gen, candidate) -> what decides acceptance."""
    [run_id] = run_ids(repo)
    out = {}
    for ref in git(
        repo, "for-each-ref", "--format=%(refname)", f"refs/sia/{run_id}/attempts/"
    ).split():
        record = json.loads(git(repo, "show", f"{ref}:attempt.json"))
        for c in record["candidates"]:
            out[(record["generation"], c["candidate"])] = {
                "status": c["status"],
                "knobs": c["knobs"],
                "scores": c["scores"],
                "accepted": record["accepted"] == c["candidate"],
                "where": c["run"]["where"],
            }
    return out


@pytest.mark.slow
def test_ray_and_the_default_executor_accept_the_same_generations(
    tmp_path: Path, sia: Runner
) -> None:
    runs = {}
    for executor in ("local", "ray"):
        repo = make_repo(tmp_path / executor)
        done = sia(
            "evolve", "--task", "penguins", "--max-gen", "4", "--executor", executor, cwd=repo
        )
        assert done.returncode == 0, done.stderr + done.stdout
        runs[executor] = candidates(repo)
        if executor == "ray":
            assert "executor: Ray local instance" in done.stdout
            assert "sandbox bwrap, on Ray" in done.stdout
    local, ray = runs["local"], runs["ray"]
    assert {k for k, v in local.items() if v["accepted"]} == {
        k for k, v in ray.items() if v["accepted"]
    }
    assert len([v for v in local.values() if v["accepted"]]) >= 2, "the run should improve"
    strip = ("where",)
    assert {k: {f: v[f] for f in v if f not in strip} for k, v in local.items()} == {
        k: {f: v[f] for f in v if f not in strip} for k, v in ray.items()
    }
    assert all(v["where"] == "here" for v in local.values())
    assert all(v["where"].startswith("ray node ") for v in ray.values()), ray


@pytest.mark.slow
def test_agents_that_mount_a_model_run_on_ray_with_the_same_results(
    tmp_path: Path, sia: Runner, tiny_task: Path
) -> None:
    """A weights run (tests/tinymodel.py): its agents mount the base model and the adapter, so
    Ray keeps them on this machine's node; training stays on the driver."""
    runs = {}
    for executor in ("local", "ray"):
        repo = make_repo(tmp_path / executor)
        done = sia(
            "evolve",
            "--task-dir",
            str(tiny_task),
            "--max-gen",
            "2",
            "--lever",
            "weights",
            "--candidates",
            "1",
            "--confirm-runs",
            "0",
            # Parity is the point here, not evidence: the tiny model's +0.125 on 80 items is
            # p=0.03, short of a run's first paired test (0.025).
            "--accept",
            "1",
            "--executor",
            executor,
            cwd=repo,
        )
        assert done.returncode == 0, done.stderr + done.stdout
        runs[executor] = candidates(repo)
    local, ray = runs["local"], runs["ray"]
    assert local[(2, 1)]["accepted"], "the weights generation should win"
    assert {k: {f: v for f, v in c.items() if f != "where"} for k, c in local.items()} == {
        k: {f: v for f, v in c.items() if f != "where"} for k, c in ray.items()
    }
    assert all(c["where"].startswith("ray node ") for c in ray.values())


@pytest.mark.slow
def test_a_target_agent_reaches_the_gateway_from_a_ray_worker(
    repo: Path, tmp_path: Path, sia: Runner
) -> None:
    from tests.fakellm import FakeLLM, text
    from tests.test_evolve_llm import GATEWAY_AGENT, MODEL

    agent = tmp_path / "agent.py"
    agent.write_text(GATEWAY_AGENT)
    with FakeLLM(lambda body, n: text("yes")) as llm:
        done = sia(
            "evolve",
            "--task",
            "penguins",
            "--agent",
            str(agent),
            "--max-gen",
            "1",
            "--target-model",
            MODEL,
            "--target-api-base",
            llm.api_base,
            "--target-api-key-env",
            "SIA_TARGET_KEY",
            "--executor",
            "ray",
            cwd=repo,
            env={"SIA_TARGET_KEY": "sk-target-key-for-the-gateway-0123"},
        )
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    log = git(repo, "show", f"refs/sia/{run_id}/attempts/g0001:c0/gateway.jsonl")
    assert [json.loads(line)["status"] for line in log.splitlines()] == [200] * 3
    assert candidates(repo)[(1, 0)]["where"].startswith("ray node ")


@pytest.mark.slow
def test_an_agent_that_crashes_on_a_ray_worker_is_reported_with_its_stderr(
    repo: Path, tmp_path: Path, sia: Runner
) -> None:
    agent = tmp_path / "crash.py"
    agent.write_text("import sys\nprint('no outputs today', file=sys.stderr)\nsys.exit(3)\n")
    done = sia("evolve", "--task", "penguins", "--agent", str(agent), "--executor", "ray", cwd=repo)
    assert done.returncode != 0
    assert "generation 1 (agent crash.py) crashed: exit code 3: no outputs today" in done.stderr
    assert "Traceback" not in done.stderr


def test_ray_address_errors_are_one_line_and_fast(repo: Path, sia: Runner) -> None:
    import socket

    with socket.socket() as s:  # a port on loopback where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = sia(
        "evolve",
        "--task",
        "penguins",
        "--executor",
        "ray",
        "--ray-address",
        f"127.0.0.1:{port}",
        cwd=repo,
        timeout=60,
    )
    assert done.returncode != 0
    assert f"--ray-address 127.0.0.1:{port}: nothing answers there" in done.stderr
    done = sia("evolve", "--task", "penguins", "--ray-address", f"127.0.0.1:{port}", cwd=repo)
    assert done.returncode != 0
    assert "--ray-address (ray_address) is only used with --executor ray" in done.stderr
    done = sia("evolve", "--task", "penguins", "--executor", "dask", cwd=repo)
    assert done.returncode != 0 and "'dask' is not one of 'local', 'ray'" in done.stderr
    assert run_ids(repo) == []


def test_without_ray_installed_the_error_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if absent
    with pytest.raises(SiaError, match=r"pip install 'sia-git\[ray\]'"):
        executors.make("ray", object(), None, echo=print)  # type: ignore[arg-type]


def test_outputs_coming_back_from_a_worker_cannot_escape_the_scratch_folder(tmp_path: Path) -> None:
    """What a worker sends back is untrusted (tests/test_archives.py has every case)."""
    escape = _archive(("../outside.txt", archives._FILE, b"bad"))
    with pytest.raises(SiaError, match="not a path inside its folder"):
        executors.unpack(escape, tmp_path / "dest")
    assert not (tmp_path / "outside.txt").exists()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:  # the format before: refused whole
        info = tarfile.TarInfo("work/passwd")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(SiaError, match="not one sia-git made"):
        executors.unpack(buf.getvalue(), tmp_path / "dest")
    assert not (tmp_path / "dest" / "work").exists()
    (tmp_path / "src" / "work").mkdir(parents=True)
    (tmp_path / "src" / "work" / "preds.json").write_text("[1, 2]")
    (tmp_path / "src" / "stdout.txt").write_text("ok\n")
    executors.unpack(executors.pack(tmp_path / "src", ["work", "stdout.txt"]), tmp_path / "back")
    assert (tmp_path / "back" / "work" / "preds.json").read_text() == "[1, 2]"
    assert (tmp_path / "back" / "stdout.txt").read_text() == "ok\n"
