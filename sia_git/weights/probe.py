"""The collapse guard: before an adapter is saved (and long before a full evaluation), it
answers a few training prompts greedily, balanced by label, and so does the base model. An
adapter that gives one answer to nearly all of them, or fails to give a readable answer much
more often than the base did, has collapsed: training fails with that reason, and the
candidate is recorded as such without being run.

Training prompts, not dev items: the trainer sees only the train split (dev results must come
from the sandboxed agent), and a collapse shows on any prompt.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sia_git.weights.generation import GenerationTrainer, answer_of

ITEMS = 32  # prompts asked (at most), as many of each label
ONE_ANSWER_SHARE = 0.9  # one answer to this share of the prompts, when their labels differ
UNREAD_RISE = 0.25  # unreadable answers rising by this share over the start's


class Collapsed(Exception):
    """The trained adapter collapsed; the message says how (one line)."""


@dataclass(frozen=True)
class Probe:
    answers: list[str]  # "" where no answer could be read
    labels: list[str]

    @property
    def n(self) -> int:
        return len(self.answers)

    def accuracy(self) -> float:
        pairs = zip(self.answers, self.labels, strict=True)
        right = sum(a.lower() == lab.strip().lower() for a, lab in pairs)
        return right / self.n if self.n else 0.0

    def unread(self) -> float:
        return sum(not a for a in self.answers) / self.n if self.n else 0.0

    def summary(self) -> dict[str, Any]:
        return {"items": self.n, "accuracy": round(self.accuracy(), 4),
                "answers": dict(Counter(self.answers).most_common())}  # fmt: skip


def chosen(labels: list[str], n: int = ITEMS) -> list[int]:
    """Row indices with as many rows of each label (the first ones, labels in turn), at most
    `n` in all: on a balanced probe, one answer to nearly all is a collapse, not a majority."""
    by: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        by.setdefault(lab, []).append(i)
    each = min(min(len(v) for v in by.values()), n // len(by)) if by else 0
    queues = [v[:each] for _, v in sorted(by.items())]
    return [q[k] for k in range(each) for q in queues]


def answers(
    trainer: GenerationTrainer, rows: list[dict[str, str]], prompts: list[str], *, adapter: bool
) -> Probe:
    """Greedy answers to the probe's prompts, with the adapter on or off."""
    import contextlib

    import torch

    job, tok = trainer.job, trainer.tokenizer
    labels = [r[job.label_column] for r in rows]
    idx = chosen(labels)
    enc = tok(
        [prompts[i] for i in idx],
        padding=True,
        truncation=True,
        max_length=job.max_length,
        return_tensors="pt",
        add_special_tokens=job.prompt_format != "chat",
    ).to(trainer.device)
    off = trainer.model.disable_adapter() if not adapter else contextlib.nullcontext()
    trainer.model.eval()
    with torch.no_grad(), off:
        seqs = trainer.model.generate(
            **enc,
            do_sample=False,
            max_new_tokens=job.max_new_tokens,
            pad_token_id=tok.pad_token_id,
        )
    texts = tok.batch_decode(seqs[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    return Probe([answer_of(t, job.answer_pattern) for t in texts], [labels[i] for i in idx])


def check(before: Probe, after: Probe) -> None:
    """Raise Collapsed when `after` (the trained adapter) has collapsed, `before` being the
    base model's answers."""
    if not after.n:
        return
    top, count = Counter(after.answers).most_common(1)[0]
    if len(set(after.labels)) > 1 and count / after.n >= ONE_ANSWER_SHARE:
        said = f"answers {top!r}" if top else "gives no readable answer"
        raise Collapsed(
            f"the adapter collapsed: it {said} to {count} of {after.n} training prompts "
            f"(labels {dict(Counter(after.labels))}); not saved"
        )
    if after.unread() - before.unread() >= UNREAD_RISE:
        raise Collapsed(
            f"the adapter collapsed: no readable answer to {after.unread():.0%} of "
            f"{after.n} training prompts (the base model: {before.unread():.0%}); "
            "not saved"
        )
