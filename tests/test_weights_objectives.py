"""The weights objectives on tiny models (tests/tinymodel.py): `sft`, `rft` and `grpo` train a tiny
causal LM on the majority task, `classification` a tiny BERT. Each changes the model's answers,
and each adapter carries the set it trained on (train items only). The collapse guard rejects
an adapter that gives one answer to nearly every prompt before it is saved, and a run records
the candidate with that reason without running it."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from sia_git.tasks.task import load
from sia_git.weights import dataset, probe, training
from sia_git.weights.job import MANIFEST, Job
from sia_git.weights.store import AdapterStore
from tests.conftest import Runner, git, run_ids
from tests.tinymodel import tiny_job


def _ids(path: Path) -> set[str]:
    with path.open(encoding="utf-8", newline="") as f:
        return {r["id"] for r in csv.DictReader(f)}


def _gen_job(task: Path, out: Path, objective: str, **hp: object) -> Job:
    hparams = {"lr": 0.01, "epochs": 5, "batch_size": 16, "group_size": 8, "entropy": 0.2, **hp}
    return tiny_job(task, out, template="{text}:", target_modules=["q_proj", "v_proj"],
                    hparams=hparams, max_seconds=300, objective=objective,
                    evaluator=load(task, source=str(task)).evaluator_template(),
                    max_new_tokens=1)  # fmt: skip


@pytest.mark.parametrize("objective", ["sft", "rft", "grpo"])
def test_each_generative_objective_changes_the_answers_and_keeps_its_training_set(
    objective: str, tiny_gen_task: Path, tmp_path: Path
) -> None:
    store = AdapterStore(tmp_path / "store")
    job = _gen_job(tiny_gen_task, tmp_path / "adapter", objective)
    done = training.run(job, tmp_path, store, memory_mb=8192, say=lambda _l: None)
    assert done.error == "" and done.address is not None, done.log[-2000:]
    folder = store.get(done.address)
    record = json.loads((folder / MANIFEST).read_text())
    assert record["objective"] == objective
    before, after = record["probe"]["before"], record["probe"]["after"]
    assert after["answers"] != before["answers"]  # the adapter answers differently
    assert after["accuracy"] > before["accuracy"]  # and better, on the probe's prompts
    rows = dataset.read(folder)
    train = _ids(tiny_gen_task / "public" / "train.csv")
    sealed = _ids(tiny_gen_task / "private" / "dev.csv") | _ids(
        tiny_gen_task / "private" / "test.csv"
    )
    trained = {r["id"] for r in rows}
    assert trained <= train and not trained & sealed
    assert trained == train or objective == "rft"  # rft keeps the rows it answered right
    assert all(r["prompt"].endswith(":") and r["target"] in ("x", "y") for r in rows)


def test_a_classification_adapter_keeps_its_training_set(tiny_task: Path, tmp_path: Path) -> None:
    from tests.test_weights import _job

    store = AdapterStore(tmp_path / "store")
    done = training.run(
        _job(tiny_task, tmp_path / "adapter"), tmp_path, store, memory_mb=8192, say=print
    )
    assert done.address is not None, done.error
    rows = dataset.read(store.get(done.address))
    assert len(rows) == len(_ids(tiny_task / "public" / "train.csv"))
    assert all(r["text"].startswith("the word ") for r in rows)


def test_the_guard_names_a_collapse_and_passes_a_balanced_answerer() -> None:
    labels = ["x", "y"] * 8
    fine = probe.Probe(["x", "y"] * 8, labels)
    probe.check(fine, fine)
    one = probe.Probe(["x"] * 16, labels)
    with pytest.raises(probe.Collapsed, match="it answers 'x' to 16 of 16 training prompts"):
        probe.check(fine, one)
    mute = probe.Probe([""] * 6 + ["x", "y"] * 5, labels)
    with pytest.raises(probe.Collapsed, match="no readable answer to 38%"):
        probe.check(fine, mute)
    # One label only (nothing to tell apart): one answer is no collapse.
    probe.check(probe.Probe(["x"] * 4, ["x"] * 4), probe.Probe(["x"] * 4, ["x"] * 4))
    assert probe.chosen(["x"] * 30 + ["y"] * 2) == [0, 30, 1, 31]  # balanced, first rows first


def _skewed(src: Path, dest: Path) -> Path:
    """The majority task with 62 training rows of answer x and 2 of y: supervised on it, the
    tiny model learns to answer x to everything."""
    shutil.copytree(src, dest)
    train = dest / "public" / "train.csv"
    with train.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    ys = [r for r in rows if r["label"] == "y"][:2]
    xs = [r for r in rows if r["label"] == "x"]
    xs = (xs * 10)[:62]
    with train.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["id", "text", "label"])
        w.writeheader()
        for i, r in enumerate(xs + ys):
            w.writerow({**r, "id": f"S{i:04d}"})
    toml = dest / "task.toml"
    text = re.sub(r'objective = "\w+"', 'objective = "sft"', toml.read_text())
    toml.write_text(text.replace('name = "tiny-majority"', 'name = "tiny-skewed"'))
    return dest


def test_a_collapsed_adapter_is_recorded_as_such_and_never_run(
    repo: Path, sia: Runner, tiny_gen_task: Path, tmp_path: Path
) -> None:
    task = _skewed(tiny_gen_task, tmp_path / "skewed")
    done = sia("evolve", "--task-dir", str(task), "--max-gen", "2", "--lever", "weights",
               "--candidates", "1", "--confirm-runs", "0", cwd=repo)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    assert "the adapter collapsed: it answers 'x' to" in done.stdout
    [run_id] = run_ids(repo)
    ref = f"refs/sia/{run_id}/attempts/g0002"
    record = json.loads(git(repo, "show", f"{ref}:attempt.json"))
    [cand] = record["candidates"]
    assert cand["status"] == "train-failed" and "collapsed" in cand["reason"]
    assert not cand["scores"]  # it never reached the sandbox or the evaluator
