"""The weights lever: a LoRA adapter for the model the agent runs ([weights] in task.toml),
trained with peft before the candidate runs; the incumbent's harness is unchanged."""

from __future__ import annotations

import json

from sia_git.levers import lora as hparams
from sia_git.levers.base import Lever, Request, Situation
from sia_git.levers.proposal import Improvement, Proposal
from sia_git.store import trailers as T


class Weights(Lever):
    def unavailable(self, s: Situation) -> str | None:
        if not s.has_weights:
            return f"task {s.task} has no [weights] table (its agent runs no model to train)"
        return None

    def propose(self, req: Request) -> list[Proposal]:
        """`n` LoRA trainings of the incumbent's harness, settings from the strategy."""
        settings = hparams.propose(
            req.hist.weight_trials(),
            seed_key=req.seed_key,
            direction=req.direction,
            generation=req.gen,
            n=req.n,
            seed=req.seed,
            task_defaults=req.weights_defaults,
            strategy=req.strategy,
        )
        why = "offline search over the LoRA settings (no model configured)"
        return [proposal(hp, req.files, why) for hp in settings]

    def trailers(self, p: Proposal) -> list[tuple[str, str]]:
        return [(T.TRAIN, train_trailer(p.train))] if p.train is not None else []


def proposal(
    hp: hparams.HParams, files: dict[str, bytes], why: str, *, model: str | None = None
) -> Proposal:
    train = hp.model_dump()
    # Continuing trains the incumbent's adapter further: its rank and dropout stay its own.
    shown = ("continued" if hp.continue_from_incumbent else f"r={hp.r}") + (
        f" lr={hp.lr:.3g} epochs={hp.epochs} batch={hp.batch_size}"
    )
    subject = f"weights: LoRA {shown}"
    body = (
        f"Lever: **weights** — {why}.\n\n## What changed\n\nA LoRA "
        "adapter was trained with peft on the task's training split, with the "
        "incumbent's harness unchanged; the commit pins it by content hash "
        f"(`Sia-Adapter`).\n\n{train_table(train)}"
    )
    return Proposal(lever="weights", files=dict(files), improvement=Improvement(subject, body),
                    model=model, lever_reason=why, train=train)  # fmt: skip


def train_table(train: dict) -> str:
    rows = "\n".join(f"| `{k}` | `{v}` |" for k, v in train.items())
    return f"| setting | value |\n|---|---|\n{rows}\n"


def train_trailer(train: dict) -> str:
    return json.dumps(train, sort_keys=True, separators=(",", ":"))
