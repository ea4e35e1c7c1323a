"""`evolve --executor ray --ray-address` on a real three-node Ray cluster (tests/raycluster.py: a
head and two worker nodes started with `ray start`, each its own process tree with its own CPU,
temp folder and namespaces, in a network namespace with only loopback). The worker nodes
cannot see the repository (its scratch included) or the task's answer key, so every agent that
ran there got its code and inputs through Ray. A worker node killed mid-generation loses
nothing; the head killed stops the run with one line, and `evolve --run` resumes it."""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sia_git.tasks.task import resolve
from tests.conftest import ROOT, git, make_repo, run_ids
from tests.raycluster import RayCluster, available

pytest.importorskip("ray", reason="the ray extra: pip install 'sia-git[ray]'")
pytestmark = pytest.mark.slow

if available() is not None:  # a failure, not a skip: CI must run these
    pytest.fail(f"a Ray cluster cannot be made here: {available()}", pytrace=False)

BUILTIN = resolve("penguins", None).root


def _task(root: Path) -> Path:
    """penguins, with its agents allowed to name absolute paths (the probe below does)."""
    task = root / "penguins"
    shutil.copytree(BUILTIN, task)
    toml = task / "task.toml"
    allow = '[agent]\nallow_rules = ["B108", "sia-outside-paths"]'
    toml.write_text(toml.read_text().replace("[agent]", allow, 1))
    return task


def _agent(tmp: Path, repo: Path, sleep_s: float) -> Path:
    """The penguins reference agent, slowed down, first printing what it can see."""
    reference = (ROOT / "tasks" / "penguins" / "reference" / "target_agent.py").read_text()
    probe = (
        "import os as _os, json as _json, time as _time\n"
        f"print('VIEW ' + _json.dumps({{p: _os.path.exists(p) for p in "
        f"{[str(answers(tmp)), str(repo)]!r}}}), flush=True)\n"
        f"_time.sleep({sleep_s})\n"
    )
    head, sep, rest = reference.partition("\nimport argparse")
    path = tmp / f"agent_{int(sleep_s * 10)}.py"
    path.write_text(head + "\n" + probe + sep.lstrip("\n") + rest)
    return path


def answers(users: Path) -> Path:
    return users.parent / "task" / "penguins" / "private" / "dev.csv"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    base = tmp_path_factory.mktemp("cluster")
    users = base / "users"  # every repository of this module lives here
    users.mkdir()
    task = _task(base / "task")
    # worker2 is marked trusted: candidates are scored there, with the answer key it gets
    # through Ray (its own filesystem view hides the key, as every worker node's does).
    with RayCluster(hide=[users, task / "private"], trusted=("worker2",)) as c:
        c.users = users  # type: ignore[attr-defined]
        yield c


def _repo(cluster: RayCluster, name: str) -> Path:
    return make_repo(cluster.users / name)  # type: ignore[attr-defined]


def _candidates(repo: Path) -> dict[tuple[int, int], dict]:
    [run_id] = run_ids(repo)
    out = {}
    refs = git(repo, "for-each-ref", "--format=%(refname)", f"refs/sia/{run_id}/attempts/")
    for ref in refs.split():
        record = json.loads(git(repo, "show", f"{ref}:attempt.json"))
        for c in record["candidates"]:
            key = (record["generation"], c["candidate"])
            assert key not in out, f"candidate {key} recorded twice"
            out[key] = c
    return out


def _evolve(agent: Path, gens: int, *extra: str) -> list[str]:
    task = answers(agent.parent).parents[1]
    return ["evolve", "--task-dir", str(task), "--agent", str(agent), "--max-gen", str(gens),
            "--candidates", "3", "--workers", "3", "--executor", "ray",
            "--ray-address", "127.0.0.1:6399", "--confirm-runs", "0", *extra]  # fmt: skip


def test_agents_run_on_the_worker_nodes_and_get_everything_through_ray(
    cluster: RayCluster,
) -> None:
    repo = _repo(cluster, "spread")
    key = answers(cluster.users)  # type: ignore[attr-defined]
    for node in ("worker1", "worker2"):  # the nodes' own view: no shared filesystem there
        seen = cluster.sees(node, [key, repo])
        assert seen == {str(key): False, str(repo): False}
    assert cluster.sees("head", [key]) == {str(key): True}
    agent = _agent(cluster.users, repo, 1.0)  # type: ignore[attr-defined]
    done = cluster.sia(*_evolve(agent, 2), cwd=repo)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "executor: Ray cluster 127.0.0.1:6399 (3 CPUs" in done.stdout
    assert "scoring: on 1 trusted Ray node(s) (resource sia_trusted)" in done.stdout
    ids = {node_id[:12]: name for name, node_id in cluster.node_ids().items()}
    ran = _candidates(repo)
    where = {k: ids[re.match(r"ray node (\w+)", c["run"]["where"]).group(1)]
             for k, c in ran.items()}  # fmt: skip
    assert len(set(where.values())) > 1, where
    assert {"worker1", "worker2"} & set(where.values()), where
    # Every candidate was scored on the trusted node, none by the driver.
    scored = {k: ids.get(re.match(r"ray node (\w+)", c["scored_on"]).group(1))
              for k, c in ran.items()}  # fmt: skip
    assert set(scored.values()) == {"worker2"}, scored
    [run_id] = run_ids(repo)
    for (gen, cand), c in ran.items():
        assert c["status"] == "ok", c
        out = git(repo, "show", f"refs/sia/{run_id}/attempts/g{gen:04d}:c{cand}/stdout.txt")
        view = json.loads(out.split("VIEW ", 1)[1].splitlines()[0])
        assert not any(view.values()), (where[(gen, cand)], view)


def test_a_worker_node_killed_mid_generation_loses_nothing(cluster: RayCluster) -> None:
    """The node killed is worker2, the one trusted to score: its agents run again elsewhere,
    and what is left to score is scored by the driver, as without a trusted node."""
    repo = _repo(cluster, "node-lost")
    agent = _agent(cluster.users, repo, 6.0)  # type: ignore[attr-defined]
    log = cluster.users / "node-lost.log"  # type: ignore[attr-defined]
    proc = cluster.sia_popen(*_evolve(agent, 2), cwd=repo, out=log)
    try:
        _wait_for(log, "gen 1: ", proc)  # generation 1 is recorded: gen 2's agents start now
        worker2 = cluster.nodes["worker2"]
        deadline = time.monotonic() + 120
        while not worker2.running("target_agent.py"):  # a gen 2 agent is running there
            assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
            time.sleep(0.1)
        lost = cluster.node_ids()["worker2"][:12]
        worker2.kill()
        assert proc.wait(timeout=400) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
        cluster.start("worker2")
    ran = _candidates(repo)
    assert sorted(k for k in ran if k[0] == 2) == [(2, 1), (2, 2), (2, 3)]
    for c in ran.values():  # rescheduled (ok) or failed with the reason, never silent
        assert c["status"] == "ok" or c["reason"], c
    # What ran on the lost node was run again on another: no result says it came from there.
    assert all(lost not in c["run"]["where"] for k, c in ran.items() if k[0] == 2), ran
    # Scored on the trusted node while it lived, then here: never lost, never on a dead node.
    assert all(lost in c["scored_on"] for k, c in ran.items() if k[0] == 1), ran
    after = [c["scored_on"] for k, c in ran.items() if k[0] == 2 and c["status"] == "ok"]
    assert "here (no trusted Ray node left)" in after, ran
    commits = [c["commit"] for c in ran.values() if c.get("commit")]
    assert len(commits) == len(set(commits))


def test_the_head_killed_stops_the_run_in_one_line_and_evolve_run_resumes(
    cluster: RayCluster,
) -> None:
    repo = _repo(cluster, "head-lost")
    agent = _agent(cluster.users, repo, 6.0)  # type: ignore[attr-defined]
    log = cluster.users / "head-lost.log"  # type: ignore[attr-defined]
    proc = cluster.sia_popen(*_evolve(agent, 3), cwd=repo, out=log)
    try:
        _wait_for(log, "gen 1: ", proc)
        time.sleep(3.0)
        cluster.nodes["head"].kill()
        # Ray's own reaction would end the process after a minute without a word of ours.
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    [run_id] = run_ids(repo)
    assert code not in (0, None), text
    errors = [line for line in text.splitlines() if line.startswith("sia-git: error:")]
    assert len(errors) == 1, text
    assert "lost the Ray cluster's head at 127.0.0.1:6399" in errors[0]
    assert f"sia-git evolve --run {run_id}" in errors[0]
    assert "Traceback" not in text
    for node in list(cluster.nodes):
        cluster.nodes[node].kill()
    for node in ("head", "worker1", "worker2"):
        cluster.start(node)
    again = cluster.sia("evolve", "--run", run_id, "--max-gen", "3", "--candidates", "3",
                        "--workers", "3", "--executor", "ray", "--ray-address",
                        "127.0.0.1:6399", "--confirm-runs", "0", cwd=repo)  # fmt: skip
    assert again.returncode == 0, again.stderr + again.stdout
    ran = _candidates(repo)
    assert {g for g, _ in ran} == {1, 2, 3}
    assert sorted(k for k in ran if k[0] == 3) == [(3, 1), (3, 2), (3, 3)]


def _wait_for(log: Path, text: str, proc: object, limit: float = 300) -> None:
    deadline = time.monotonic() + limit
    while text not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        assert proc.poll() is None, log.read_text()  # type: ignore[attr-defined]
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
