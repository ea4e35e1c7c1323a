"""The offline proposer (no model): a UCB bandit picks the lever per generation
(levers/bandit.py), the lever proposes with the run's search strategy (`auto` by default:
screening first where candidates are slow to score, optuna's TPE) its knob values or LoRA
settings."""

from __future__ import annotations

from sia_git import levers
from sia_git.core.extensions import AUTO, LEVERS, STRATEGIES
from sia_git.evolve.proposers.base import Maker, Proposer, Round
from sia_git.levers import bandit

KNOWN = LEVERS.implementations


class OfflineSearch(Proposer):
    def describe(self) -> str:
        strategy = self.port.strategy.name
        how = "" if strategy in ("", STRATEGIES.default) else f", {strategy} strategy"
        return (
            f"knob search (no --model{how})"
            if self.port.models.proposer is None
            else f"offline search (--proposer search{how})"
        )

    def propose(self, rnd: Round) -> list[Maker]:
        port = self.port
        choice = bandit.choose(rnd.hist, levers.offline(list(rnd.levers)), port.direction)
        if choice is None:
            forced = port.settings.lever
            why = (
                f"the {forced} lever cannot change this agent"
                if forced != AUTO
                else self._why_none(rnd)
            )
            port.echo(
                f"gen {rnd.gen}: stopping: {why} (give a --model to have a Feedback-Agent "
                "change code)"
            )
            return []
        request = levers.Request(
            hist=rnd.hist,
            files=rnd.files,
            gen=rnd.gen,
            n=port.settings.candidates,
            adapter=rnd.adapter,
            seed=port.settings.seed,
            seed_key=port.seed_key,
            direction=port.direction,
            strategy=port.strategy,
            weights_defaults=port.weights_defaults,
            prior=port.prior,
            run_seconds=rnd.run_seconds,
        )
        proposals = levers.get(choice).propose(request)
        if not proposals:
            what = "the agent's KNOB_SPACE" if choice == "knobs" else f"the {choice} lever"
            port.echo(f"gen {rnd.gen}: stopping: every setting of {what} was tried")
        return [lambda p=p: p for p in proposals]

    def _why_none(self, rnd: Round) -> str:
        """Why no lever can change the agent offline (the knobs lever says best)."""
        situation = levers.Situation(
            source=rnd.source,
            task=self.port.task.name,
            has_weights=self.port.task.manifest.weights is not None,
            has_model=self.port.models.proposer is not None,
        )
        knobs = levers.get("knobs").unavailable(situation) if "knobs" in KNOWN() else None
        return knobs or "no lever that needs no model can change this agent"
