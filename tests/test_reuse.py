"""evolve/reuse.py: a candidate identical to one already scored on the task reuses its result,
in this run or any other run of the repository; one that could win is run for real."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from sia_git.evolve.reuse import ReuseIndex
from sia_git.levers.proposal import Improvement, Proposal
from sia_git.store.records import AttemptRecord, CandidateRecord
from tests.conftest import Runner, run_ids


def _index() -> ReuseIndex:
    return ReuseIndex("dev", "task-digest")


def test_the_key_changes_with_the_files_the_adapter_and_the_seed() -> None:
    idx = _index()
    files = {"target_agent.py": b"print(1)\n", "lib/x.py": b""}
    k = idx.key(files, None, 0)
    assert k == idx.key(dict(reversed(files.items())), None, 0)  # order does not matter
    assert k != idx.key({**files, "lib/x.py": b"#"}, None, 0)
    assert k != idx.key(files, "sha256:ab", 0)
    assert k != idx.key(files, None, 1)
    assert k != ReuseIndex("dev", "another task").key(files, None, 0)


def _proposal() -> Proposal:
    return Proposal(lever="knobs", files={"target_agent.py": b"x"},
                    improvement=Improvement("t", "b"), knobs={"k": 1})  # fmt: skip


def test_a_stored_result_is_reused_unless_it_could_win() -> None:
    idx = _index()
    items = [{"id": "1", "status": "correct"}, {"id": "2", "status": "wrong"}]
    rec = CandidateRecord(candidate=2, scores={"dev": 0.5, "test": None}, key="K",
                          items={"dev": items})  # fmt: skip
    idx.add(AttemptRecord(run="r1", generation=3, candidates=[rec]), "r1 gen 3")
    out = idx.lookup("K", _proposal(), 1, could_win=lambda s: s > 0.6)
    assert out is not None and out.reused == "r1 gen 3 c2" and out.score("dev") == 0.5
    assert out.evaluation.splits["dev"].items == items  # type: ignore[union-attr]
    assert out.score("test") is None  # a sealed score is never stored, so never reused
    assert idx.lookup("K", _proposal(), 1, could_win=lambda s: s > 0.4) is None
    assert idx.lookup("other", _proposal(), 1, could_win=lambda s: False) is None


@pytest.mark.slow
def test_a_second_run_reuses_the_first_runs_results(repo: Path, sia: Runner) -> None:
    """Two runs of the knob search with the same seed propose the same candidates: the second
    runs only the ones that could beat its incumbent and says where the others' results came
    from; their records name the first run's candidate."""
    args = ("evolve", "--task", "penguins", "--max-gen", "3", "--confirm-runs", "0")
    first = sia(*args, cwd=repo)
    assert first.returncode == 0, first.stderr + first.stdout
    second = sia(*args, cwd=repo)
    assert second.returncode == 0, second.stderr + second.stdout
    one, two = sorted(run_ids(repo))
    assert "not run again" in second.stdout, second.stdout
    reused = [c for gen in (2, 3) for c in _record(repo, two, gen)["candidates"] if c["reused"]]
    assert reused and all(c["reused"].startswith(f"{one} gen ") for c in reused)
    firsts = {
        c["key"]: c["scores"]["dev"]
        for gen in (2, 3)
        for c in _record(repo, one, gen)["candidates"]
    }
    for c in reused:
        assert c["scores"]["dev"] == firsts[c["key"]]
        assert c["run"] is None  # nothing ran in the sandbox for it


def _record(repo: Path, run_id: str, gen: int) -> dict:
    out = subprocess.run(
        ["git", "show", f"refs/sia/{run_id}/attempts/g{gen:04d}:attempt.json"],
        cwd=repo, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def test_a_candidate_pruned_at_the_sample_is_not_a_whole_dev_result() -> None:
    idx = _index()
    pruned = CandidateRecord(candidate=1, scores={"dev": 0.9}, key="K", stage="sample 20 of 80")
    idx.add(AttemptRecord(run="r1", generation=2, candidates=[pruned]), "r1 gen 2")
    assert idx.lookup("K", _proposal(), 1, could_win=lambda s: False) is None
