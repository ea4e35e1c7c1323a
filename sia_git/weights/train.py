"""Train one LoRA adapter with peft: supervised sequence classification on the task's training
split, formatted by the harness's own `template` knob (objective `classification`), or a
generative model's answers (`sft`: supervised.py; `rft`: rejection.py; `grpo`: generation.py).

Run as `python -m sia_git.weights.train JOB.json` by the loop (a child process, so a kill or a
crash mid-training loses nothing but the training); progress goes to stdout as JSON lines.
`Trainer.step` is the whole per-batch cost that `bench/lora_step.py` compares with bare peft.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

from sia_git.tasks.model_spec import HParams
from sia_git.weights import dataset
from sia_git.weights.grpo import train_generation
from sia_git.weights.job import Job, Progress, record_of, run_epochs, save_adapter
from sia_git.weights.probe import Collapsed
from sia_git.weights.rejection import train_rejection
from sia_git.weights.supervised import train_supervised


def read_examples(job: Job) -> tuple[list[str], list[str], list[str]]:
    """Each training row's id (its row number where the file has no id column), text as the
    template shapes it, and label."""
    with open(job.train_csv, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{job.train_csv} has no rows")
    for col in (job.text_column, job.label_column):
        if col not in rows[0]:
            raise ValueError(f"{job.train_csv} has no column '{col}'")
    texts = [job.template.replace("{text}", r[job.text_column]) for r in rows]
    ids = [r.get(job.id_column) or f"row {i + 1}" for i, r in enumerate(rows)]
    return ids, texts, [r[job.label_column] for r in rows]


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
            job.base,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={lab: i for i, lab in enumerate(labels)},
        )
        if job.init_adapter:
            self.model = PeftModel.from_pretrained(base, job.init_adapter, is_trainable=True)
        else:
            cfg = LoraConfig(
                task_type=TaskType.SEQ_CLS,
                r=hp.r,
                lora_alpha=hp.r * hp.alpha_ratio,
                lora_dropout=hp.dropout,
                target_modules=job.target_modules,
            )
            self.model = get_peft_model(base, cfg)
        # On a GPU when the machine has one (the adapter's files are the same either way).
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model.to(self.device)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=hp.lr)
        self.model.train()

    def batch(self, texts: list[str], labels: list[str]) -> dict[str, Any]:
        import torch

        enc = self.tokenizer(
            texts,
            truncation=True,
            max_length=self.job.max_length,
            return_tensors="pt",
            **self.tokenizer_kwargs,
        )
        enc["labels"] = torch.tensor([self.labels.index(lab) for lab in labels])
        return {k: v.to(self.device) for k, v in enc.items()}

    def step(self, batch: dict[str, Any]) -> float:
        loss = self.model(**batch).loss
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    def save(self, out: Path, record: dict[str, Any]) -> None:
        save_adapter(self.model, self.job, out, record=record)


def train(job: Job, progress: Progress) -> dict[str, Any]:
    """Train, save the adapter in `job.out_dir`, return what was done. Stops early (keeping
    what it has) when `max_seconds` runs out."""
    import torch

    if job.threads:
        torch.set_num_threads(job.threads)
    if job.objective in ("grpo", "generation"):
        return train_generation(job, progress)
    if job.objective == "sft":
        return train_supervised(job, progress)
    if job.objective == "rft":
        return train_rejection(job, progress)
    ids, texts, labels = read_examples(job)
    classes = sorted(set(labels))
    trainer = Trainer(job, classes)

    def step(idx: list[int]) -> dict[str, float]:
        return {
            "loss": trainer.step(trainer.batch([texts[j] for j in idx], [labels[j] for j in idx]))
        }

    loop = run_epochs(job, trainer.hp, len(texts), step=step, progress=progress)
    record = record_of(
        job, trainer.hp, len(texts), loop=loop, device=trainer.device, labels=classes
    )
    trainer.save(Path(job.out_dir), record)
    dataset.write(Path(job.out_dir), job, ids=ids, inputs=texts, targets=labels)
    return record


def main(argv: list[str]) -> int:
    job = Job.load(Path(argv[0]))

    def emit(event: dict[str, Any]) -> None:
        print(json.dumps(event), flush=True)

    try:
        record = train(job, emit)
    except Collapsed as exc:  # a verdict on the adapter, said as it is
        emit({"event": "failed", "error": str(exc)})
        return 1
    except Exception as exc:  # the parent records it as the candidate's failure
        emit({"event": "failed", "error": f"{type(exc).__name__}: {exc}"[:2000]})
        return 1
    emit({"event": "done", "steps": record["steps"], "stopped_early": record["stopped_early"]})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
