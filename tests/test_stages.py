"""evolve/stages.py: candidates are scored on a fixed sample of dev items first, and on all of
dev only when they can still beat the incumbent; the stage each reached is recorded."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from sia_git.evolve import stages
from sia_git.evolve.outcome import Outcome
from sia_git.store.records import Status
from sia_git.tasks.evaluation import Evaluation, SplitScore
from sia_git.tasks.task import load, resolve
from tests.conftest import Runner, git, run_ids

PENGUINS = resolve("penguins", None)


def _ids(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as f:
        return [row["id"] for row in csv.DictReader(f)]


def test_the_sample_dataset_holds_the_samples_dev_rows_and_a_share_of_the_rest(
    tmp_path: Path,
) -> None:
    dev = {i: n % 4 == 0 for n, i in enumerate(_ids(PENGUINS.private_dir / "dev.csv"))}
    stage = stages.prepare(PENGUINS, PENGUINS.public_dir, tmp_path / "s", dev=dev,
                           fraction=0.25, seed=3)  # fmt: skip
    assert stage is not None and stage.label() == "sample 20 of 80"
    assert set(_ids(tmp_path / "s" / "dev.csv")) == stage.sample <= set(dev)
    # Stratified: the incumbent is right on a quarter of dev, and on a quarter of the sample.
    assert sum(dev[i] for i in stage.sample) == 5
    # The sealed split's inputs would be empty: a share of them stays (their results are dropped)
    assert len(_ids(tmp_path / "s" / "test.csv")) == stages.KEPT_ROWS
    train = (PENGUINS.public_dir / "train.csv").read_bytes()
    assert (tmp_path / "s" / "train.csv").read_bytes() == train  # not answer-set items
    again = stages.prepare(PENGUINS, PENGUINS.public_dir, tmp_path / "t", dev=dev,
                           fraction=0.25, seed=3)  # fmt: skip
    assert again is not None and again.sample == stage.sample  # fixed for the run


def test_a_task_that_cannot_be_cut_or_is_too_small_is_scored_whole(tmp_path: Path) -> None:
    dev = {i: True for i in _ids(PENGUINS.private_dir / "dev.csv")}
    public = tmp_path / "public"
    shutil.copytree(PENGUINS.public_dir, public)
    for name in ("dev.csv", "test.csv"):  # inputs with no id column: nothing to cut
        (public / name).write_text("x\n1\n")
    assert stages.prepare(PENGUINS, public, tmp_path / "s", dev=dev, fraction=0.25,
                          seed=0) is None  # fmt: skip
    half = dict(list(dev.items())[:40])
    assert stages.prepare(PENGUINS, PENGUINS.public_dir, tmp_path / "s", dev=half,
                          fraction=0.25, seed=0) is None  # fmt: skip
    assert stages.prepare(PENGUINS, PENGUINS.public_dir, tmp_path / "s", dev=dev,
                          fraction=0.0, seed=0) is None  # fmt: skip


def _staged(index: int, right: set[int], n: int = 20) -> Outcome:
    items = [{"id": str(i), "status": "correct" if i in right else "wrong"} for i in range(n)]
    o = Outcome(index, None, {}, Status.OK)
    o.evaluation = Evaluation({"dev": SplitScore(len(right) / n, {}, items)}, [])
    o.stage = f"sample {n} of 80"
    return o


def test_clearly_worse_candidates_are_pruned_and_at_most_half_go_on() -> None:
    incumbent = {str(i): i < 15 for i in range(20)}  # 15 of 20 right
    outs = [
        _staged(1, set(range(8))),  # 7 losses: clearly worse
        _staged(2, set(range(17))),  # +2
        _staged(3, set(range(15))),  # the same items: not known to be worse
        _staged(4, set(range(16))),  # +1
    ]
    why = stages.advancing(outs, incumbent, "dev")
    assert "upper bound" in (why[1] or "") and "is not above the incumbent" in (why[1] or "")
    assert why[2] is None and why[4] is None  # the two best of four go on
    assert "successive halving" in (why[3] or "")


def test_only_the_samples_items_count_and_sealed_scores_are_dropped() -> None:
    o = _staged(1, {0, 1, 2}, n=4)
    o.withheld = {"test": SplitScore(0.1)}
    stage = stages.Stage(frozenset({"0", "3"}), Path("/x"), 80)
    stages.on_sample(o, stage, "dev")
    assert o.score("dev") == 0.5 and o.withheld == {} and o.stage == "sample 2 of 80"
    assert [i["id"] for i in o.evaluation.splits["dev"].items] == ["0", "3"]  # type: ignore[union-attr]


REFERENCE = {"model": "threshold", "features": "mass", "standardize": False,
             "per_species": False, "k": 5, "l2": 1.0}  # fmt: skip

GIVEN = """
def _say_what_i_was_given(dataset_dir):
    import csv as _csv
    counts = {}
    for name in ("dev", "test"):
        with open(dataset_dir / f"{name}.csv", encoding="utf-8") as f:
            counts[name] = sum(1 for _ in _csv.DictReader(f))
    print(f"GIVEN dev={counts['dev']} test={counts['test']}")

"""


@pytest.mark.slow
def test_a_staged_run_gives_agents_the_sample_first_and_records_the_stage(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    """The agent prints how many dev and test rows it was given: a candidate pruned at the
    sample saw 20 dev rows, one that went on was run again on all 80; neither paid for the
    sealed test's 80 rows (5 kept), yet an accepted one has its sealed score; each record and
    commit says which stage it reached."""
    task = tmp_path / "penguins"
    shutil.copytree(PENGUINS.root, task)
    agent = task / "reference" / "target_agent.py"
    source = agent.read_text().replace("def main() -> None:", GIVEN + "def main() -> None:")
    first = '    train = read(args.dataset_dir / "train.csv")'
    source = source.replace(first, "    _say_what_i_was_given(args.dataset_dir)\n" + first)
    # Generation 1 (the reference's knobs) runs for over stages.MIN_RUN_S: a run that short
    # is scored whole (the next test).
    source = source.replace(
        first, f"    if KNOBS == {REFERENCE!r}:\n        time.sleep(2.2)\n" + first
    )
    agent.write_text(source)
    load(task, source=str(task))  # still a valid task
    done = sia("evolve", "--task-dir", str(task), "--max-gen", "3", "--candidates", "3",
               "--confirm-runs", "0", "--accept", "1", cwd=repo)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    assert "staged evaluation: candidates are scored on a sample 20 of 80 dev items" in done.stdout
    [run_id] = run_ids(repo)
    stages_seen, accepted = set(), 0
    for gen in (2, 3):
        ref = f"refs/sia/{run_id}/attempts/g{gen:04d}"
        record = json.loads(git(repo, "show", f"{ref}:attempt.json"))
        for cand in record["candidates"]:
            if cand["status"] != "ok":
                continue
            out = git(repo, "show", f"{ref}:c{cand['candidate']}/stdout.txt")
            if cand["stage"] == "sample 20 of 80":
                assert "GIVEN dev=20 test=5" in out and cand["verdict"].startswith("pruned")
                stages_seen.add("sample")
            else:
                assert cand["stage"] == "full (after the sample 20 of 80)"
                assert "GIVEN dev=80 test=5" in out
                stages_seen.add("full")
            body = git(repo, "log", "-1", "--format=%B", cand["commit"])
            assert f"Sia-Stage: {cand['stage']}" in body
            if cand["verdict"] == "accepted":
                assert "Sia-Score-Test: " in body
                accepted += 1
    assert stages_seen == {"sample", "full"}, done.stdout
    assert accepted, done.stdout


def test_a_run_whose_first_generation_is_fast_scores_candidates_whole(
    repo: Path, sia: Runner
) -> None:
    """penguins' agent runs in well under stages.MIN_RUN_S: a sample would save nothing and a
    candidate that goes on would pay a second run, so none is staged (and none pruned)."""
    done = sia("evolve", "--task", "penguins", "--max-gen", "2", "--candidates", "3", cwd=repo)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "staged evaluation: off, generation 1's agent ran 0." in done.stdout
    [run_id] = run_ids(repo)
    record = json.loads(git(repo, "show", f"refs/sia/{run_id}/attempts/g0002:attempt.json"))
    assert len(record["candidates"]) == 3
    for cand in record["candidates"]:
        assert not cand.get("stage") and cand["metrics"]["dev"]["total"] == 80, cand


def test_a_generations_candidates_asking_for_the_stage_at_once_get_one(tmp_path: Path) -> None:
    """Candidates are tried in threads and each asks for the run's stage; it was once made by
    each of them at the same time, one deleting the folder another was copying into."""
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from sia_git.evolve import trying

    dev = _ids(PENGUINS.private_dir / "dev.csv")
    ctx = SimpleNamespace(
        task=PENGUINS, dataset=PENGUINS.public_dir, paths=SimpleNamespace(scratch=tmp_path),
        cfg=SimpleNamespace(stage=0.25, seed=0), stage=None, echo=lambda line: None,
    )  # fmt: skip
    job = trying.Job(2, {}, None, 0.5, {i: True for i in dev})
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: trying._stage(ctx, job), range(8)))  # type: ignore[arg-type]
    assert all(g is got[0] and g is not None for g in got)
    assert set(_ids(got[0].dataset / "dev.csv")) == got[0].sample
