"""`--json` on every command that prints results: `evolve` streams JSON lines (one event each),
`tasks`, `revert` and `report` print one JSON document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Runner, run_ids

pytestmark = pytest.mark.slow


def test_evolve_streams_events_and_the_other_commands_print_json(repo: Path, sia: Runner) -> None:
    done = sia("evolve", "--task", "penguins", "--max-gen", "3", "--confirm-runs", "0", "--json",
               cwd=repo)  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert {"generation", "candidate", "best", "message"} <= set(kinds)
    [run_id] = run_ids(repo)
    assert events[0]["run"] == run_id and events[0]["max_gen"] == 3
    assert [e["generation"] for e in events if e["event"] == "generation"] == [1, 2, 3]
    assert any(e["event"] == "candidate" and e["state"] == "scoring" for e in events)

    tasks = json.loads(sia("tasks", "--json", cwd=repo).stdout)
    assert {t["name"] for t in tasks} >= {"penguins", "word-sentiment"}

    report = json.loads(sia("report", "--json", cwd=repo).stdout)
    assert report["run"] == run_id and Path(report["html"]).is_file()
    same = json.loads(sia("report", "--run", run_id[:-3], "--json", cwd=repo).stdout)
    assert same["html"] == report["html"]  # --run (a prefix), as the other commands take it

    gens = sorted(e["generation"] for e in events if e["event"] == "best")
    tip_gen = json.loads(sia("log", "--json", cwd=repo).stdout)["rows"][-1]["gen"]
    if tip_gen and tip_gen > 1:
        reverted = json.loads(sia("revert", str(tip_gen), "--json", cwd=repo).stdout)
        assert reverted["generation"] == tip_gen and reverted["run"] == run_id
        assert reverted["score"] is not None and gens


def test_a_named_run_is_found_by_its_name_and_a_taken_name_is_refused(
    repo: Path, sia: Runner
) -> None:
    done = sia("evolve", "--task", "penguins", "--max-gen", "1", "--name", "baseline-a", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert run_ids(repo) == ["baseline-a"] and "sia/baseline-a" in done.stdout
    assert "run baseline-a" in sia("log", "--run", "base", cwd=repo).stdout  # a unique prefix
    again = sia("evolve", "--task", "penguins", "--name", "baseline-a", cwd=repo)
    assert again.returncode == 2
    assert again.stderr.strip() == (
        "sia-git: error: --name baseline-a: a run with that name exists; choose another"
    )
    assert run_ids(repo) == ["baseline-a"]
