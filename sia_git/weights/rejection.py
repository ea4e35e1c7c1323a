"""Rejection-sampling fine-tuning (objective `rft`, as STaR and ReST): the model samples
`group_size` replies to each training prompt, shaped as the harness shapes it; the task's
evaluator judges each reply's answer on that training item; the replies it judges correct,
in the model's own words, are the targets of a supervised pass (supervised.py's loss).

Between `sft` (gold labels, which a small model may never say the way they are written) and
`grpo` (a reward that a rare right answer barely moves): only what the model already can say,
and only when it is right.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sia_git.weights import dataset, probe, supervised
from sia_git.weights.generation import GenerationTrainer, Rewarder, answer_of, prepare
from sia_git.weights.job import Job, Progress, record_of, run_epochs, save_adapter


def kept_replies(
    trainer: GenerationTrainer, prompts: list[str], ids: list[str], *, reward: Rewarder
) -> list[tuple[int, str]]:
    """(row, reply) for every distinct sampled reply the evaluator judged correct."""
    k, size = trainer.hp.group_size, trainer.hp.batch_size
    kept: list[tuple[int, str]] = []
    for start in range(0, len(prompts), size):
        rows = list(range(start, min(start + size, len(prompts))))
        texts = trainer.draw([prompts[i] for i in rows])[4]
        answers = [answer_of(t, trainer.job.answer_pattern) for t in texts]
        for j in range(k):
            right = reward([ids[i] for i in rows], answers[j::k])
            for n, i in enumerate(rows):
                reply = texts[n * k + j].strip()
                if right[n] and reply and (i, reply) not in kept:
                    kept.append((i, reply))
    return kept


def train_rejection(job: Job, progress: Progress) -> dict[str, Any]:
    ready = prepare(job)
    rows, trainer, prompts, ids = ready.rows, ready.trainer, ready.prompts, ready.ids
    reward = Rewarder(job, rows, Path(job.out_dir).parent / "reward")
    before = probe.answers(trainer, rows, prompts, adapter=False)
    kept = kept_replies(trainer, prompts, ids, reward=reward)
    if not kept:
        raise ValueError(
            "rft: none of the sampled replies was judged correct, so there is nothing to "
            "train on (try sft)"
        )
    progress({"event": "sampled", "kept": len(kept), "rows": len(rows)})

    def one(idx: list[int]) -> dict[str, float]:
        return supervised.step(
            trainer, [prompts[kept[j][0]] for j in idx], [kept[j][1] for j in idx]
        )

    loop = run_epochs(job, trainer.hp, len(kept), step=one, progress=progress)
    after = probe.answers(trainer, rows, prompts, adapter=True)
    probe.check(before, after)  # raises Collapsed: the adapter is not saved
    record = record_of(job, trainer.hp, len(rows), loop=loop, device=trainer.device,
                       max_new_tokens=job.max_new_tokens, kept_replies=len(kept),
                       probe={"before": before.summary(), "after": after.summary()})  # fmt: skip
    out = Path(job.out_dir)
    save_adapter(trainer.model, job, out, record=record)
    dataset.write(out, job, ids=[ids[i] for i, _ in kept], inputs=[prompts[i] for i, _ in kept],
                  targets=[r for _, r in kept])  # fmt: skip
    return record
