"""The `grpo` objective's training job (the trainer is generation.py's): sampled answers to
the harness's prompts, rewarded by the task's evaluator, then the collapse guard, the adapter
and the set it trained on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sia_git.weights import dataset, probe
from sia_git.weights.generation import Rewarder, prepare
from sia_git.weights.job import Job, Progress, record_of, run_epochs, save_adapter


def train_generation(job: Job, progress: Progress) -> dict[str, Any]:
    ready = prepare(job)
    rows, trainer, prompts, ids = ready.rows, ready.trainer, ready.prompts, ready.ids
    reward = Rewarder(job, rows, Path(job.out_dir).parent / "reward")

    def step(idx: list[int]) -> dict[str, float]:
        return trainer.step([prompts[j] for j in idx], [ids[j] for j in idx], reward)

    before = probe.answers(trainer, rows, prompts, adapter=False)
    loop = run_epochs(job, trainer.hp, len(rows), step=step, progress=progress)
    after = probe.answers(trainer, rows, prompts, adapter=True)
    probe.check(before, after)  # raises Collapsed: the adapter is not saved
    record = record_of(
        job,
        trainer.hp,
        len(rows),
        loop=loop,
        device=trainer.device,
        epoch_rewards=[e.get("reward") for e in loop.epochs],
        max_new_tokens=job.max_new_tokens,
        probe={"before": before.summary(), "after": after.summary()},
    )
    out = Path(job.out_dir)
    save_adapter(trainer.model, job, out, record=record)
    dataset.write(out, job, ids=ids, inputs=prompts, targets=[r[job.label_column] for r in rows])
    return record
