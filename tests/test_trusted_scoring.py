"""Scoring on a Ray node marked trusted (evolve/trusted_scoring.py), on a local Ray instance
started by the test on 127.0.0.1 in a child process, with the resource `sia_trusted`: the same
evaluations as scoring here for candidates scored at once, a malformed submission's included.
An evaluator failing there fails the candidate with its own message. A scoring whose actor is
lost goes to another actor, or here when none is left; so does one of a second run whose actors
find the node's units taken. The cluster tests
(test_ray_cluster.py) cover the same scorer across nodes, with a node lost."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the ray extra: pip install 'sia-git[ray]'")

ROOT = Path(__file__).resolve().parent.parent

PREAMBLE = r"""
import json, os, sys, threading
from concurrent import futures
from pathlib import Path
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
import ray
from sia_git.evolve import trusted_scoring
from sia_git.tasks import task as taskmod
from sia_git.tasks.evaluation import EvaluatorFailed, evaluate

def start_trusted_ray():
    ray.init(num_cpus=1, resources={trusted_scoring.TRUSTED: 1}, include_dashboard=False,
             log_to_driver=False, logging_level="ERROR")
"""

SCRIPT = (
    PREAMBLE
    + r"""

tmp = Path(sys.argv[1])
task = taskmod.load(Path(sys.argv[2]), "test")
answers = {}
for split in ("dev", "test"):
    rows = (task.root / "private" / f"{split}.csv").read_text().splitlines()[1:]
    answers[split] = [r.split(",") for r in rows]
works = []
for i in range(12):  # candidate i gets its first i*10 answers right, the rest wrong
    work = tmp / f"c{i}" / "work"
    (work / "predictions").mkdir(parents=True)
    for split, rows in answers.items():
        lines = [f"{k},{sex if n < i * 10 else ('female' if sex == 'male' else 'male')}"
                 for n, (k, sex) in enumerate(rows)]
        (work / "predictions" / f"{split}.csv").write_text("id,sex\n" + "\n".join(lines) + "\n")
    works.append(work)
(works[5] / "predictions" / "dev.csv").write_text("not,a\nsubmission")  # scores 0

start_trusted_ray()
scorer = trusted_scoring.TrustedScorer(ray, task, lambda ref, check: ray.get(ref))

def one(i):
    try:
        ev = scorer(task, works[i], tmp / f"c{i}" / "scratch")
    except EvaluatorFailed as exc:
        return {"failed": str(exc)}
    try:
        here = evaluate(task, works[i], tmp / f"c{i}" / "here")
    except EvaluatorFailed as exc:
        return {"failed here only": str(exc)}
    same = {s: (ev.splits[s].score, here.splits[s].score) for s in here.splits}
    return {"where": ev.where, "same": same}

barrier = threading.Barrier(12)
def at_once(i):
    barrier.wait()
    return one(i)
with futures.ThreadPoolExecutor(12) as pool:
    got = list(pool.map(at_once, range(12)))
print(json.dumps(got))
ray.shutdown()
"""
)


def test_candidates_scored_at_once_on_the_trusted_node_score_as_here(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), str(ROOT / "tasks" / "penguins")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    # Every candidate is scored on the node, as here, and none takes another's score.
    for i, g in enumerate(got):
        assert g.get("where", "").startswith("ray node "), g
        for split, (there, here) in g["same"].items():
            assert there == here, (i, split, there, here)
    dev = [g["same"]["dev"][0] for g in got]
    assert dev[5] == 0.0 and dev[1] < dev[6] < dev[11], dev


FAILING = (
    PREAMBLE
    + r"""

tmp, root = Path(sys.argv[1]), Path(sys.argv[2])
task = taskmod.load(root, "test")
work = tmp / "work"
(work / "predictions").mkdir(parents=True)
start_trusted_ray()
scorer = trusted_scoring.TrustedScorer(ray, task, lambda ref, check: ray.get(ref))
try:
    ev = scorer(task, work, tmp / "scratch")
    print("SCORED", ev.where)
except EvaluatorFailed as exc:
    print("FAILED", exc)
ray.shutdown()
"""
)


def test_an_evaluator_failing_on_the_trusted_node_fails_the_candidate_with_its_message(
    tmp_path: Path,
) -> None:
    """The evaluator's own last line comes back, naming the task's evaluator as the user knows
    it (not the node's temporary copy of the task)."""
    root = tmp_path / "task"
    shutil.copytree(ROOT / "tasks" / "penguins", root)
    manifest = root / "task.toml"
    manifest.write_text(
        manifest.read_text().replace('builtin = "accuracy"', 'path = "private/evaluate.py"')
    )
    (root / "private" / "evaluate.py").write_text(
        'import sys\nsys.exit("the answer key has no row for nest N9A1")\n'
    )
    done = subprocess.run(
        [sys.executable, "-c", FAILING, str(tmp_path), str(root)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    line = done.stdout.strip().splitlines()[-1]
    assert line == (
        f"FAILED evaluator {root / 'private' / 'evaluate.py'} failed (exit 1): "
        "the answer key has no row for nest N9A1"
    ), line


ONE_WORK = r"""

tmp, root = Path(sys.argv[1]), Path(sys.argv[2])
task = taskmod.load(root, "test")
work = tmp / "work"
(work / "predictions").mkdir(parents=True)
for split in ("dev", "test"):
    rows = (root / "public" / f"{split}.csv").read_text().splitlines()[1:]
    male = "".join(row.split(",")[0] + ",male\n" for row in rows)
    (work / "predictions" / f"{split}.csv").write_text("id,sex\n" + male)
start_trusted_ray()
"""

LOSING = (
    PREAMBLE
    + ONE_WORK
    + r"""
scorer = trusted_scoring.TrustedScorer(ray, task, lambda ref, check: ray.get(ref))
actors = scorer._actors.made  # reached into: the test plays the node losing its processes
print("ACTORS", len(actors))
for actor in actors[:-1]:
    ray.kill(actor)
print("WHERE", json.dumps([scorer(task, work, tmp / f"s{i}").where for i in range(3)]))
ray.kill(actors[-1])
print("WHERE", json.dumps([scorer(task, work, tmp / "last").where]))
ray.shutdown()
"""
)


def test_scorings_on_lost_actors_go_to_the_others_then_here(tmp_path: Path) -> None:
    """A scoring actor's process gone (its node lost, or the process killed): what it would
    have scored is scored by another trusted actor, and with none left, here; never lost."""
    done = subprocess.run(
        [sys.executable, "-c", LOSING, str(tmp_path), str(ROOT / "tasks" / "penguins")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout.strip().splitlines()
    assert out[-3] == "ACTORS 4", out  # PER_UNIT actors for the node's one unit
    there = json.loads(out[-2].removeprefix("WHERE "))
    assert len(there) == 3 and all(w.startswith("ray node ") for w in there), there
    assert len(set(there)) == 1, there  # the one actor left (one process) scored them all
    assert json.loads(out[-1].removeprefix("WHERE ")) == ["here (no trusted Ray node left)"]


HELD = (
    PREAMBLE
    + ONE_WORK
    + r"""
first = trusted_scoring.TrustedScorer(ray, task, lambda ref, check: ray.get(ref))
print("FIRST", json.dumps(first(task, work, tmp / "a").where))  # its actors hold every unit
trusted_scoring.START_S = 3.0
second = trusted_scoring.TrustedScorer(ray, task, lambda ref, check: ray.get(ref))
print("SECOND", json.dumps(second(task, work, tmp / "b").where))
print("FIRST", json.dumps(first(task, work, tmp / "c").where))
ray.shutdown()
"""
)


def test_a_second_run_whose_actors_find_every_unit_taken_scores_here(tmp_path: Path) -> None:
    """Two runs on one cluster: the first run's scoring actors hold the trusted node's units for
    the run, so the second's never start; its scorings wait START_S, then are scored here,
    saying why, instead of waiting for the first run to end."""
    done = subprocess.run(
        [sys.executable, "-c", HELD, str(tmp_path), str(ROOT / "tasks" / "penguins")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = [line.split(" ", 1) for line in done.stdout.strip().splitlines()[-3:]]
    got = [(who, json.loads(where)) for who, where in out]
    assert got[0][0] == "FIRST" and got[0][1].startswith("ray node "), got
    assert got[1] == ("SECOND", "here (no trusted Ray node free)"), got
    assert got[2][0] == "FIRST" and got[2][1].startswith("ray node "), got
