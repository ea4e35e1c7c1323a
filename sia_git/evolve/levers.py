"""Which lever changes the agent in a generation, and the offline proposals for each.

`--lever` forces one. Otherwise the Feedback-Agent chooses (with a model), or, offline, a UCB
bandit over the levers' measured gains picks one per generation: a lever not tried yet first,
then the one whose mean gain plus an exploration bonus (scaled to the gains seen) is highest.
"""

from __future__ import annotations

import json
import math

from sia_git import history as H
from sia_git import knobs as knobmod
from sia_git.errors import SiaError
from sia_git.evolve.proposal import Proposal
from sia_git.knob_search import Trial, search
from sia_git.knobs import Value
from sia_git.weights import hparams

OFFLINE_ORDER = ("knobs", "weights")


def available(source: str, has_weights: bool, has_model: bool) -> list[str]:
    """The levers that can change this agent now."""
    out = ["harness"] if has_model else []
    try:
        if knobmod.read(source):
            out.append("knobs")
    except knobmod.KnobError:
        pass
    if has_weights:
        out.append("weights")
    return out


def check_forced(lever: str, has_weights: bool, has_model: bool, task: str) -> None:
    """Reject a forced lever the run cannot pull, before anything runs."""
    if lever == "weights" and not has_weights:
        raise SiaError(
            f"--lever weights: task {task} has no [weights] table (its agent runs no "
            "model to train)"
        )
    if lever == "harness" and not has_model:
        raise SiaError(
            "--lever harness needs --model: offline, only the knobs and weights "
            "levers can change the agent"
        )


def choose_offline(hist: H.RunHistory, levers: list[str], direction: str) -> str | None:
    """UCB1 over measured gains; None when no lever can be pulled."""
    choices = [lever for lever in OFFLINE_ORDER if lever in levers]
    if not choices:
        return None
    gains = hist.lever_gains()
    sign = 1.0 if direction == "maximize" else -1.0
    for lever in choices:
        if not gains.get(lever):
            return lever
    total = sum(len(gains[lever]) for lever in choices)
    # Gains are fractions of a point, not rewards in [0, 1]: scale the exploration bonus to the
    # largest gain seen, or it would drown the evidence and the bandit would only alternate.
    scale = max((abs(x) for lever in choices for x in gains[lever]), default=0.0) or 1e-3

    def ucb(lever: str) -> float:
        g = [sign * x for x in gains[lever]]
        return sum(g) / len(g) + scale * math.sqrt(math.log(total) / len(g))

    return max(choices, key=ucb)


def weights_proposals(
    hist: H.RunHistory,
    source: str,
    files: dict[str, bytes],
    seed_key: str,
    direction: str,
    gen: int,
    n: int,
    seed: int,
    defaults: dict | None = None,
) -> list[Proposal]:
    """`n` LoRA trainings of the incumbent's harness, settings from the offline search."""
    settings = hparams.propose(hist.weight_trials(), seed_key, direction, gen, n, seed, defaults)
    return [
        weights_proposal(
            hp, source, files, "offline search over the LoRA settings (no model configured)"
        )
        for hp in settings
    ]


def weights_proposal(
    hp: hparams.HParams, source: str, files: dict[str, bytes], why: str, model: str | None = None
) -> Proposal:
    train = hp.model_dump()
    # Continuing trains the incumbent's adapter further: its rank and dropout stay its own.
    shown = ("continued" if hp.continue_from_incumbent else f"r={hp.r}") + (
        f" lr={hp.lr:.3g} epochs={hp.epochs} batch={hp.batch_size}"
    )
    subject = f"weights: LoRA {shown}"
    improvement = (
        f"# {subject}\n\nLever: **weights** — {why}.\n\n## What changed\n\nA LoRA "
        "adapter was trained with peft on the task's training split, with the "
        "incumbent's harness unchanged; the commit pins it by content hash "
        f"(`Sia-Adapter`).\n\n{train_table(train)}"
    )
    return Proposal(
        "weights",
        source,
        subject,
        improvement,
        None,
        files=dict(files),
        model=model,
        lever_reason=why,
        train=train,
    )


def train_table(train: dict) -> str:
    rows = "\n".join(f"| `{k}` | `{v}` |" for k, v in train.items())
    return f"| setting | value |\n|---|---|\n{rows}\n"


def train_trailer(train: dict) -> str:
    return json.dumps(train, sort_keys=True, separators=(",", ":"))


def knob_proposals(
    hist: H.RunHistory,
    source: str,
    seed_key: str,
    direction: str,
    gen: int,
    n: int,
    adapter: str | None,
) -> list[Proposal]:
    return KnobProposer(seed_key, direction).propose(source, hist.trials(adapter), gen, n)


class KnobProposer:
    """Proposes `n` new knob settings for the incumbent agent, none tried before."""

    lever = "knobs"

    def __init__(self, seed_key: str, direction: str) -> None:
        # The seed key (task name and --seed) makes a run reproducible: the same task, seed and
        # history always give the same proposals, whatever the run is called.
        self.seed_key = seed_key
        self.direction = direction

    def propose(
        self, incumbent: str, history: list[Trial], generation: int, n: int
    ) -> list[Proposal]:
        parsed = knobmod.read(incumbent)
        if parsed is None:
            return []
        current, space = parsed
        found = search(space, current, history, f"{self.seed_key}", self.direction, generation, n)
        return [self._proposal(incumbent, current, knobs, history) for knobs in found]

    def _proposal(
        self, source: str, old: dict[str, Value], new: dict[str, Value], history: list[Trial]
    ) -> Proposal:
        changed = [(k, old.get(k), v) for k, v in new.items() if old.get(k) != v]
        subject = "knobs " + ", ".join(f"{k} {_show(a)}→{_show(b)}" for k, a, b in changed[:3])
        if len(changed) > 3:
            subject += f" (+{len(changed) - 3} more)"
        scored = [t for t in history if t.score is not None]
        best = (max if self.direction == "maximize" else min)(
            scored, key=lambda t: t.score or 0.0, default=None
        )
        rows = "\n".join(f"| `{k}` | `{_show(a)}` | `{_show(b)}` |" for k, a, b in changed)
        why = (
            f"The search has scored {len(scored)} configuration(s) so far "
            f"({len(history) - len(scored)} failed)"
            + (
                f"; the best scored {best.score:.4f} in generation {best.generation}."
                if best
                else "."
            )
            + " TPE (tree-structured Parzen estimator) proposes settings that look like the "
            "high-scoring ones and unlike the low-scoring ones; while few trials exist it "
            "explores the space at random."
        )
        improvement = (
            f"# {subject}\n\n"
            "Lever: **knobs** — offline search over the agent's `KNOB_SPACE` "
            "(no model configured).\n\n"
            f"## What changed\n\n| knob | before | after |\n|---|---|---|\n{rows}\n\n"
            f"## Why\n\n{why}\n"
        )
        return Proposal("knobs", knobmod.write(source, new), subject, improvement, new)


def _show(v: Value) -> str:
    return repr(knobmod.tidy(v)) if isinstance(v, float) else str(v)
