"""One LoRA training as the child process sees it: the job, the epoch loop with its time limit,
the record of what was done and how the adapter is saved. Shared by every objective
(classification in train.py, sft in supervised.py, rft in rejection.py, grpo in
generation.py)."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sia_git.tasks.model_spec import HParams

MANIFEST = "sia_adapter.json"
DEFAULT_TEMPLATE = "{text}"


@dataclass
class Job:
    """Everything one training needs; written as JSON for the child process."""

    base: str  # a folder or hub id, as transformers loads it
    base_model: str  # the name the task gives (recorded instead of a machine's path)
    base_revision: str
    train_csv: str
    text_column: str
    label_column: str
    template: str
    max_length: int
    target_modules: list[str]
    hparams: dict[str, Any]
    out_dir: str
    max_seconds: float
    init_adapter: str | None = None  # the incumbent's adapter, to continue from
    threads: int = 0  # 0: torch's default
    objective: str = "classification"  # or sft, rft, grpo (see tasks/model_spec.py)
    # Generation: the task's evaluator as argv with {predictions}, {answers}, {split} and
    # {output} to fill in; it scores sampled answers on training items (the reward).
    evaluator: list[str] | None = None
    id_column: str = "id"
    max_new_tokens: int = 16
    gguf_file: str | None = None
    prompt_format: str = "plain"
    answer_pattern: str | None = None
    shots: int = 0  # generation: labelled training examples shown before each prompt

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, indent=1))

    @classmethod
    def load(cls, path: Path) -> Job:
        return cls(**json.loads(path.read_text()))


def save_adapter(model: Any, job: Job, out: Path, *, record: dict[str, Any]) -> None:
    # The machine's path to the base model is not part of the weights: record the task's name
    # for it, so the same training gives the same files (and address) anywhere.
    model.peft_config["default"].base_model_name_or_path = job.base_model
    model.save_pretrained(str(out))
    (out / "README.md").unlink(missing_ok=True)  # the hub upload writes the model card
    # peft writes target_modules from a set, in hash order: sort it, so that the same weights
    # always make the same files.
    cfg_path = out / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    if isinstance(cfg.get("target_modules"), list):
        cfg["target_modules"] = sorted(cfg["target_modules"])
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    (out / MANIFEST).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


Progress = Callable[[dict[str, Any]], None]
Step = Callable[[list[int]], dict[str, float]]  # trains on these rows; returns loss (& more)


@dataclass
class Loop:
    steps: int = 0
    stopped: str | None = None
    epochs: list[dict[str, float]] = field(default_factory=list)  # mean of each step value


def run_epochs(job: Job, hp: HParams, rows: int, *, step: Step, progress: Progress) -> Loop:
    """Shuffled batches for `hp.epochs` epochs (seeded), progress after each step, and an early
    stop, keeping what was learnt, when `job.max_seconds` runs out."""
    import torch

    gen = torch.Generator().manual_seed(hp.seed)
    per_epoch = -(-rows // hp.batch_size)
    deadline = time.monotonic() + job.max_seconds
    out = Loop()
    for epoch in range(hp.epochs):
        order = torch.randperm(rows, generator=gen).tolist()
        totals: dict[str, float] = {}
        done = 0
        for i in range(per_epoch):
            got = step(order[i * hp.batch_size : (i + 1) * hp.batch_size])
            done, out.steps = done + 1, out.steps + 1
            for k, v in got.items():
                totals[k] = totals.get(k, 0.0) + v
            progress(
                {
                    "event": "progress",
                    "epoch": epoch + 1,
                    "epochs": hp.epochs,
                    "step": i + 1,
                    "steps": per_epoch,
                    **{k: round(v / done, 5) for k, v in totals.items()},
                }
            )
            if time.monotonic() > deadline:
                out.stopped = f"the time limit ({job.max_seconds:g} s) ran out in epoch {epoch + 1}"
                break
        out.epochs.append({k: round(v / max(1, done), 6) for k, v in totals.items()})
        if out.stopped:
            break
    return out


def record_of(
    job: Job, hp: HParams, rows: int, *, loop: Loop, device: str, **extra: Any
) -> dict[str, Any]:
    return {
        "objective": job.objective,
        "base_model": job.base_model,
        "base_revision": job.base_revision,
        "template": job.template,
        "max_length": job.max_length,
        "target_modules": job.target_modules,
        "hparams": hp.model_dump(),
        "train_rows": rows,
        "steps": loop.steps,
        "epoch_losses": [e.get("loss") for e in loop.epochs],
        "stopped_early": loop.stopped,
        "continued_from": job.init_adapter and Path(job.init_adapter).name,
        "device": device,
        "versions": versions(),
        **extra,
    }


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("torch", "transformers", "peft", "safetensors", "tokenizers"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "missing"
    return out
