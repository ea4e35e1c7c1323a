"""Train one LoRA adapter with peft: supervised sequence classification on the task's training
split, formatted by the harness's own `template` knob.

Run as `python -m sia_git.weights.train JOB.json` by the loop (a child process, so a kill or a
crash mid-training loses nothing but the training); progress goes to stdout as JSON lines.
`Trainer.step` is the whole per-batch cost that `bench/lora_step.py` compares with bare peft.
"""

from __future__ import annotations

import csv
import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sia_git.weights.hparams import HParams

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
    objective: str = "classification"  # or "generation" (weights/generation.py)
    # Generation: the task's evaluator as argv with {predictions}, {answers}, {split} and
    # {output} to fill in; it scores sampled answers on training items (the reward).
    evaluator: list[str] | None = None
    id_column: str = "id"
    max_new_tokens: int = 16
    gguf_file: str | None = None

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, indent=1))

    @classmethod
    def load(cls, path: Path) -> Job:
        return cls(**json.loads(path.read_text()))


def read_examples(job: Job) -> tuple[list[str], list[str]]:
    with open(job.train_csv, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{job.train_csv} has no rows")
    for col in (job.text_column, job.label_column):
        if col not in rows[0]:
            raise ValueError(f"{job.train_csv} has no column '{col}'")
    texts = [job.template.replace("{text}", r[job.text_column]) for r in rows]
    return texts, [r[job.label_column] for r in rows]


class Trainer:
    """A peft LoRA model, its optimiser and its tokenizer; `step` trains on one batch."""

    def __init__(self, job: Job, labels: list[str]) -> None:
        import torch
        from peft import LoraConfig, PeftModel, TaskType, get_peft_model
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        hp = HParams.model_validate(job.hparams)
        torch.manual_seed(hp.seed)
        self.job, self.hp, self.labels = job, hp, labels
        self.tokenizer = AutoTokenizer.from_pretrained(job.base)
        self.tokenizer_kwargs: dict[str, Any] = {"padding": True}
        base = AutoModelForSequenceClassification.from_pretrained(
            job.base, num_labels=len(labels), id2label=dict(enumerate(labels)),
            label2id={lab: i for i, lab in enumerate(labels)})
        if job.init_adapter:
            self.model = PeftModel.from_pretrained(base, job.init_adapter, is_trainable=True)
        else:
            cfg = LoraConfig(task_type=TaskType.SEQ_CLS, r=hp.r, lora_alpha=hp.r * hp.alpha_ratio,
                             lora_dropout=hp.dropout, target_modules=job.target_modules)
            self.model = get_peft_model(base, cfg)
        # On a GPU when the machine has one (the adapter's files are the same either way).
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model.to(self.device)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=hp.lr)
        self.model.train()

    def batch(self, texts: list[str], labels: list[str]) -> dict[str, Any]:
        import torch

        enc = self.tokenizer(texts, truncation=True, max_length=self.job.max_length,
                             return_tensors="pt", **self.tokenizer_kwargs)
        enc["labels"] = torch.tensor([self.labels.index(lab) for lab in labels])
        return {k: v.to(self.device) for k, v in enc.items()}

    def step(self, batch: dict[str, Any]) -> float:
        loss = self.model(**batch).loss
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    def save(self, out: Path, record: dict[str, Any]) -> None:
        save_adapter(self.model, self.job, out, record)


def save_adapter(model: Any, job: Job, out: Path, record: dict[str, Any]) -> None:
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


def run_epochs(job: Job, hp: HParams, rows: int, step: Step, progress: Progress) -> Loop:
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
            got = step(order[i * hp.batch_size:(i + 1) * hp.batch_size])
            done, out.steps = done + 1, out.steps + 1
            for k, v in got.items():
                totals[k] = totals.get(k, 0.0) + v
            progress({"event": "progress", "epoch": epoch + 1, "epochs": hp.epochs,
                      "step": i + 1, "steps": per_epoch,
                      **{k: round(v / done, 5) for k, v in totals.items()}})
            if time.monotonic() > deadline:
                out.stopped = (f"the time limit ({job.max_seconds:g} s) ran out in epoch "
                               f"{epoch + 1}")
                break
        out.epochs.append({k: round(v / max(1, done), 6) for k, v in totals.items()})
        if out.stopped:
            break
    return out


def record_of(job: Job, hp: HParams, rows: int, loop: Loop, device: str,
              **extra: Any) -> dict[str, Any]:
    return {"objective": job.objective, "base_model": job.base_model,
            "base_revision": job.base_revision, "template": job.template,
            "max_length": job.max_length, "target_modules": job.target_modules,
            "hparams": hp.model_dump(), "train_rows": rows, "steps": loop.steps,
            "epoch_losses": [e.get("loss") for e in loop.epochs], "stopped_early": loop.stopped,
            "continued_from": job.init_adapter and Path(job.init_adapter).name,
            "device": device, "versions": versions(), **extra}


def train(job: Job, progress: Progress) -> dict[str, Any]:
    """Train, save the adapter in `job.out_dir`, return what was done. Stops early (keeping
    what it has) when `max_seconds` runs out."""
    import torch

    if job.threads:
        torch.set_num_threads(job.threads)
    if job.objective == "generation":
        from sia_git.weights.generation import train_generation

        return train_generation(job, progress)
    texts, labels = read_examples(job)
    classes = sorted(set(labels))
    trainer = Trainer(job, classes)

    def step(idx: list[int]) -> dict[str, float]:
        return {"loss": trainer.step(trainer.batch([texts[j] for j in idx],
                                                   [labels[j] for j in idx]))}

    loop = run_epochs(job, trainer.hp, len(texts), step, progress)
    record = record_of(job, trainer.hp, len(texts), loop, trainer.device, labels=classes)
    trainer.save(Path(job.out_dir), record)
    return record


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("torch", "transformers", "peft", "safetensors", "tokenizers"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "missing"
    return out


def main(argv: list[str]) -> int:
    job = Job.load(Path(argv[0]))

    def emit(event: dict[str, Any]) -> None:
        print(json.dumps(event), flush=True)

    try:
        record = train(job, emit)
    except Exception as exc:  # the parent records it as the candidate's failure
        emit({"event": "failed", "error": f"{type(exc).__name__}: {exc}"[:2000]})
        return 1
    emit({"event": "done", "steps": record["steps"], "stopped_early": record["stopped_early"]})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
