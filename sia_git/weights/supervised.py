"""Supervised fine-tuning of a generative model (objective `sft`): each training row's prompt,
shaped as the harness shapes it (its template, shots and chat format: `GenerationTrainer.prompt`),
followed by its gold label and the end of the answer. The loss is the cross-entropy of those
answer tokens alone: the adapter learns what to answer, not to reproduce prompts.

Why it exists beside `grpo`: a small model's sampled answers rarely contain the rare right one,
so a group-relative reward teaches it little and it drifts to one answer; the gold label is a
signal on every row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sia_git.weights import dataset, probe
from sia_git.weights.generation import GenerationTrainer, positions, prepare
from sia_git.weights.job import Job, Progress, record_of, run_epochs, save_adapter

IGNORE = -100  # transformers' label for a position that is not scored


def encode(trainer: GenerationTrainer, prompts: list[str], targets: list[str]) -> dict[str, Any]:
    """Prompt-then-answer sequences, padded on the left (as served), with labels on the answer
    tokens only; a long prompt loses its beginning, never the question or the answer."""
    import torch

    job, tok = trainer.job, trainer.tokenizer
    special = job.prompt_format != "chat"  # a chat prompt holds its special tokens already
    rows, labels = [], []
    for prompt, target in zip(prompts, targets, strict=True):
        answer = list(tok(target, add_special_tokens=False)["input_ids"]) + [tok.eos_token_id]
        ids = list(tok(prompt, add_special_tokens=special)["input_ids"])
        ids = ids[-max(1, job.max_length - len(answer)) :]
        rows.append(ids + answer)
        labels.append([IGNORE] * len(ids) + answer)
    width = max(len(r) for r in rows)
    pad = tok.pad_token_id

    def left(seq: list[int], fill: int) -> list[int]:
        return [fill] * (width - len(seq)) + seq

    mask = torch.tensor([left([1] * len(r), 0) for r in rows])
    return {
        "input_ids": torch.tensor([left(r, pad) for r in rows]),
        "attention_mask": mask,
        "position_ids": positions(mask),
        "labels": torch.tensor([left(lab, IGNORE) for lab in labels]),
    }


def step(trainer: GenerationTrainer, prompts: list[str], targets: list[str]) -> dict[str, float]:
    trainer.model.train()
    batch = {k: v.to(trainer.device) for k, v in encode(trainer, prompts, targets).items()}
    loss = trainer.model(**batch).loss
    loss.backward()
    trainer.optimizer.step()
    trainer.optimizer.zero_grad(set_to_none=True)
    return {"loss": float(loss.detach())}


def train_supervised(job: Job, progress: Progress) -> dict[str, Any]:
    ready = prepare(job)
    rows, trainer, prompts = ready.rows, ready.trainer, ready.prompts
    targets = [r[job.label_column] for r in rows]
    before = probe.answers(trainer, rows, prompts, adapter=False)

    def one(idx: list[int]) -> dict[str, float]:
        return step(trainer, [prompts[j] for j in idx], [targets[j] for j in idx])

    loop = run_epochs(job, trainer.hp, len(rows), step=one, progress=progress)
    after = probe.answers(trainer, rows, prompts, adapter=True)
    probe.check(before, after)  # raises Collapsed: the adapter is not saved
    record = record_of(job, trainer.hp, len(rows), loop=loop, device=trainer.device,
                       max_new_tokens=job.max_new_tokens,
                       probe={"before": before.summary(), "after": after.summary()})  # fmt: skip
    out = Path(job.out_dir)
    save_adapter(trainer.model, job, out, record=record)
    dataset.write(out, job, ids=ready.ids, inputs=prompts, targets=targets)
    return record
