"""The knobs lever: the values of the knobs an agent declares (`KNOBS` within `KNOB_SPACE`,
plain literals at the top of target_agent.py), set by the run's search strategy."""

from __future__ import annotations

import random
from collections.abc import Callable

from sia_git.levers import knob_source as knobmod
from sia_git.levers.base import Lever, Request, Situation
from sia_git.levers.knob_source import Value
from sia_git.levers.proposal import ENTRY, Improvement, Proposal
from sia_git.levers.screening import screen
from sia_git.levers.search import Trial
from sia_git.levers.strategies import TPE, Ask, Screen, Strategy


class Knobs(Lever):
    def unavailable(self, s: Situation) -> str | None:
        try:
            found = knobmod.read(s.source)
        except knobmod.KnobError as exc:
            return f"the agent's knobs are unusable: {exc}"
        return None if found else "the agent declares no KNOBS/KNOB_SPACE to search"

    def propose(self, req: Request) -> list[Proposal]:
        proposer = KnobProposer(req.seed_key, req.direction, req.strategy)
        prior = list(req.prior) if req.adapter is None else []  # new weights: knobs act anew
        history = req.hist.trials(req.adapter)
        out = proposer.propose(req.files, history, req.gen, n=req.n, prior=prior,
                               run_seconds=req.run_seconds)  # fmt: skip
        # One of three or more is a crossover, when the run has a partner for it (of two, both
        # stay the optimiser's: measured on penguins, a crossover in every pair starved it).
        if len(out) >= 3:
            child = proposer.crossover(
                req.files, history, req.gen, parent=req.hist.incumbent()[0].gen
            )
            if child is not None and child.knobs not in [p.knobs for p in out[:-1]]:
                out[-1] = child
        return out

    def trailers(self, p: Proposal) -> list[tuple[str, str]]:
        return []  # Sia-Knobs is every candidate's that declares knobs (recording.py)


class KnobProposer:
    """Proposes `n` new knob settings for the incumbent agent, none tried before."""

    def __init__(self, seed_key: str, direction: str, strategy: Strategy | None = None) -> None:
        # The seed key (task name and --seed) makes a run reproducible: the same task, seed and
        # history always give the same proposals, whatever the run is called.
        self.seed_key = seed_key
        self.direction = direction
        self.strategy = strategy or TPE()

    def propose(
        self,
        files: dict[str, bytes],
        history: list[Trial],
        generation: int,
        *,
        n: int,
        prior: list[Trial] | None = None,
        run_seconds: float | None = None,
    ) -> list[Proposal]:
        """`prior`: earlier runs' trials on the task. The search learns from them too, and
        the best of them comes first while this run has not tried it. `run_seconds`: what one
        candidate's run takes (the auto strategy screens only slow ones)."""
        incumbent = files[ENTRY].decode()
        parsed = knobmod.read(incumbent)
        if parsed is None:
            return []
        current, space = parsed
        prior = prior or []
        first = self._best_untried(prior, history, current=current, space=space)
        out = [] if first is None else [
            self._proposal(files, current, first.knobs, history=history, warm=first)
        ]  # fmt: skip
        seen = history + prior + ([first] if first else [])
        ask = Ask(space=space, current=current, history=seen, seed_key=self.seed_key,
                  direction=self.direction, generation=generation, n=n - len(out),
                  run_seconds=run_seconds)  # fmt: skip
        strategy = self.strategy.resolve(ask)
        found = strategy.propose(ask) if n > len(out) else []
        screened = screen(space, current, seen, seed_key=self.seed_key, generation=generation,
                          n=len(space)) if isinstance(strategy, Screen) else []  # fmt: skip
        return out + [
            self._proposal(
                files,
                current,
                knobs,
                history=history,
                screened=knobs in screened,
                strategy=strategy.name,
            )  # fmt: skip
            for knobs in found
        ]

    def crossover(
        self, files: dict[str, bytes], history: list[Trial], generation: int, *, parent: int | None
    ) -> Proposal | None:
        """The incumbent's knobs crossed with the best other setting this run scored: each
        knob where they differ taken from either (seeded), never a setting tried before.
        None when no setting differs from the incumbent's in two knobs or more."""
        parsed = knobmod.read(files[ENTRY].decode())
        if parsed is None or parent is None:
            return None
        current, space = parsed
        key = _keyer(space)
        tried = {key(t.knobs) for t in history} | {key(current)}
        pick = max if self.direction == "maximize" else min
        partners = [t for t in history if t.score is not None and t.generation != parent
                    and len(_differing(current, t.knobs, space)) >= 2]  # fmt: skip
        partner = pick(partners, key=lambda t: t.score or 0.0, default=None)
        if partner is None:
            return None
        differing = _differing(current, partner.knobs, space)
        rng = random.Random(f"{self.seed_key}/{generation}/crossover")
        for _ in range(32):
            mine = rng.sample(differing, rng.randint(1, len(differing) - 1))
            child = {**current, **{k: partner.knobs[k] for k in mine}}
            if key(child) not in tried:
                break
        else:
            return None
        p = self._proposal(files, current, child, history=history)
        p.improvement = Improvement(
            p.improvement.title,
            p.improvement.body.replace(
                "## Why\n\n",
                f"## Why\n\nCrossover: the incumbent (generation {parent}) with generation "
                f"{partner.generation} (dev {partner.score:.4f}), taking "
                f"{', '.join(f'`{k}`' for k in sorted(mine))} from the latter.\n\n",
            ),
        )
        p.also_from = (partner.generation,)
        return p

    def _best_untried(
        self,
        prior: list[Trial],
        history: list[Trial],
        *,
        current: dict[str, Value],
        space: knobmod.Space,
    ) -> Trial | None:
        key = _keyer(space)
        tried = {key(t.knobs) for t in history} | {key(current)}
        fits = [t for t in prior if t.score is not None and set(space) <= set(t.knobs)]
        pick = max if self.direction == "maximize" else min
        best = pick(fits, key=lambda t: t.score or 0.0, default=None)
        if best is None or key(best.knobs) in tried:
            return None
        return Trial({**current, **{k: best.knobs[k] for k in space}}, best.score, best.generation)

    def _proposal(
        self,
        files: dict[str, bytes],
        old: dict[str, Value],
        new: dict[str, Value],
        *,
        history: list[Trial],
        warm: Trial | None = None,
        screened: bool = False,
        strategy: str | None = None,
    ) -> Proposal:
        name = strategy or self.strategy.name
        changed = [(k, old.get(k), v) for k, v in new.items() if old.get(k) != v]
        subject = "knobs " + ", ".join(f"{k} {_show(a)}→{_show(b)}" for k, a, b in changed[:3])
        if len(changed) > 3:
            subject += f" (+{len(changed) - 3} more)"
        rows = "\n".join(f"| `{k}` | `{_show(a)}` | `{_show(b)}` |" for k, a, b in changed)
        how = "" if name in ("", "tpe") else f"; strategy `{name}`"
        body = (
            f"Lever: **knobs** — offline search over the agent's `KNOB_SPACE` "
            f"(no model configured{how}).\n\n"
            f"## What changed\n\n| knob | before | after |\n|---|---|---|\n{rows}\n\n"
            f"## Why\n\n{self._why(history, name)}\n"
        )
        if screened:
            body = body.replace(
                "## Why\n\n",
                "## Why\n\nScreening: before the optimiser models the space, each knob of the "
                "incumbent is tried alone once (a range at its far end); this candidate is "
                f"`{changed[0][0]}`'s.\n\n",
            )
        if warm is not None:
            body = body.replace(
                "## Why\n\n",
                f"## Why\n\nWarm start: the best setting earlier runs on this task found "
                f"(dev {warm.score:.4f}, their generation {warm.generation}); this run has not "
                "tried it.\n\n",
            )
        source = knobmod.write(files[ENTRY].decode(), new)
        return Proposal(
            lever="knobs",
            files={**files, ENTRY: source.encode()},
            improvement=Improvement(subject, body),
            knobs=new,
        )

    def _why(self, history: list[Trial], strategy: str) -> str:
        scored = [t for t in history if t.score is not None]
        best = (max if self.direction == "maximize" else min)(
            scored, key=lambda t: t.score or 0.0, default=None
        )
        return (
            f"The search has scored {len(scored)} configuration(s) so far "
            f"({len(history) - len(scored)} failed)"
            + (
                f"; the best scored {best.score:.4f} in generation {best.generation}."
                if best
                else "."
            )
            + (
                " TPE (tree-structured Parzen estimator) proposes settings that look like the "
                "high-scoring ones and unlike the low-scoring ones; while few trials exist it "
                "explores the space at random."
                if strategy in ("", "tpe", "auto")
                else f" The {strategy} strategy proposes settings not tried before."
            )
        )


SHOWN_CHARS = 48  # of a knob value in a commit subject (the Sia-Knobs trailer has it whole)


def _show(v: Value) -> str:
    """A knob value for a one-line subject: a text's line breaks and tabs escaped (a template
    knob with a newline once made every such candidate an invalid proposal), a long one cut."""
    if isinstance(v, float):
        return repr(knobmod.tidy(v))
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(v))
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _keyer(space: knobmod.Space) -> Callable[[dict[str, Value]], tuple]:
    def key(knobs: dict[str, Value]) -> tuple:
        return tuple((k, knobmod.tidy(knobs.get(k))) for k in sorted(space))

    return key


def _differing(a: dict[str, Value], b: dict[str, Value], space: knobmod.Space) -> list[str]:
    return sorted(k for k in space if k in b and knobmod.tidy(a.get(k)) != knobmod.tidy(b[k]))
