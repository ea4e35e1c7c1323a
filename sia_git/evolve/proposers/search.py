"""The offline proposer (no model): a UCB bandit picks the lever per generation (levers.py),
optuna's TPE picks the knob values or the LoRA settings."""

from __future__ import annotations

from sia_git import knobs as knobmod
from sia_git.evolve import levers
from sia_git.evolve.proposers.base import Maker, Proposer, Round


class OfflineSearch(Proposer):
    name = "search"

    def describe(self) -> str:
        return (
            "knob search (no --model)"
            if self.ctx.models.proposer is None
            else ("offline search (--proposer search)")
        )

    def propose(self, rnd: Round) -> list[Maker]:
        ctx = self.ctx
        direction = ctx.task.manifest.metric.direction
        seed_key = f"{ctx.task.name}/{ctx.cfg.seed}"
        lever = levers.choose_offline(rnd.hist, list(rnd.levers), direction)
        if lever is None:
            forced = (
                f"the {ctx.cfg.lever} lever cannot change this agent"
                if ctx.cfg.lever != "auto"
                else "the agent declares no KNOBS/KNOB_SPACE to search"
            )
            ctx.echo(
                f"gen {rnd.gen}: stopping: {forced} (give a --model to have a "
                "Feedback-Agent change code)"
            )
            return []
        if lever == "weights":
            assert ctx.task.manifest.weights is not None
            proposals = levers.weights_proposals(
                rnd.hist,
                rnd.source,
                rnd.files,
                seed_key,
                direction,
                rnd.gen,
                ctx.cfg.candidates,
                ctx.cfg.seed,
                ctx.task.manifest.weights.hparams,
            )
        else:
            try:
                proposals = levers.knob_proposals(
                    rnd.hist,
                    rnd.source,
                    seed_key,
                    direction,
                    rnd.gen,
                    ctx.cfg.candidates,
                    rnd.adapter,
                )
            except knobmod.KnobError as exc:
                ctx.echo(f"gen {rnd.gen}: stopping: the agent's knobs are unusable: {exc}")
                return []
            if not proposals:
                ctx.echo(
                    f"gen {rnd.gen}: stopping: every setting of the agent's KNOB_SPACE was tried"
                )
        return [lambda p=p: p for p in proposals]
