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


CONSTANT = """import argparse, csv
from pathlib import Path

KNOBS = {"v": "a"}
KNOB_SPACE = {"v": ["a", "b"]}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dataset_dir", type=Path)
    p.add_argument("--working_dir", type=Path)
    a = p.parse_args()
    out = a.working_dir / "predictions"
    out.mkdir(parents=True, exist_ok=True)
    for split in ("dev", "test"):
        with open(a.dataset_dir / f"{split}.csv", encoding="utf-8") as f:
            ids = [r["id"] for r in csv.DictReader(f)]
        with open(out / f"{split}.csv", "w", encoding="utf-8") as f:
            f.write("id,sex\\n" + "".join(f"{i},male\\n" for i in ids))


main()
"""


@pytest.mark.slow
def test_a_second_run_reuses_the_first_runs_results(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    """An agent whose one knob changes nothing: run 1 starts at v=a and tries v=b; run 2 starts
    at v=b, and its warm start proposes run 1's v=a, identical to run 1's generation 1 and
    unable to win (the same score): its result is reused, not run, and its record names where
    it came from."""
    from sia_git.levers import knob_source

    a = knob_source.write(CONSTANT, {"v": "a"})
    b = knob_source.write(a, {"v": "b"})
    assert knob_source.write(b, {"v": "a"}) == a
    (tmp_path / "a.py").write_text(a)
    (tmp_path / "b.py").write_text(b)
    args = ("evolve", "--task", "penguins", "--max-gen", "2", "--confirm-runs", "0",
            "--stage", "0")  # fmt: skip
    first = sia(*args, "--agent", str(tmp_path / "a.py"), cwd=repo)
    assert first.returncode == 0, first.stderr + first.stdout
    [one] = run_ids(repo)
    second = sia(*args, "--agent", str(tmp_path / "b.py"), cwd=repo)
    assert second.returncode == 0, second.stderr + second.stdout
    [two] = [r for r in run_ids(repo) if r != one]
    assert f"(identical to {one} gen 1 c0: its result, not run again)" in second.stdout
    [cand] = _record(repo, two, 2)["candidates"]
    again = _record(repo, one, 1)["candidates"][0]
    assert cand["reused"] == f"{one} gen 1 c0" and cand["key"] == again["key"]
    assert cand["scores"]["dev"] == again["scores"]["dev"] and cand["run"] is None


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
