"""A generation's verdict: which candidate, if any, beats the incumbent on the selection split
(dev). Only that candidate's sealed scores are released (evolve/release.py); the others' are
dropped here."""

from __future__ import annotations

from dataclasses import dataclass

from sia_git.evolve.candidates import Outcome
from sia_git.evolve.context import Context
from sia_git.evolve.release import release
from sia_git.store import history as H


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """What a generation came to: the writer records it (evolve/recording)."""

    gen: int
    hist: H.RunHistory  # the run before this generation
    incumbent: H.Entry  # the generation the candidates tried to beat
    incumbent_score: float | None
    outcomes: list[Outcome]
    accepted: int | None  # the candidate committed on the branch, if any
    reasons: dict[int, str]  # why each other candidate was not


def judge(
    ctx: Context, hist: H.RunHistory, gen: int, *, outcomes: list[Outcome], score: float | None
) -> Verdict:
    """The verdict on `outcomes` against the incumbent's `score`, sealed scores released
    for the accepted candidate only."""
    accepted, reasons = select_best(ctx, outcomes, score)
    for o in outcomes:
        if o.index == accepted:
            release(ctx.task, hist, o)
        o.withheld = {}
    inc, _ = hist.incumbent()
    return Verdict(gen=gen, hist=hist, incumbent=inc, incumbent_score=score, outcomes=outcomes,
                   accepted=accepted, reasons=reasons)  # fmt: skip


def select_best(
    ctx: Context, outcomes: list[Outcome], incumbent: float | None
) -> tuple[int | None, dict[int, str]]:
    """Pick the best candidate on the selection split if it beats the incumbent."""
    reasons: dict[int, str] = {}
    scored = [o for o in outcomes if o.ok and o.score(ctx.select) is not None]
    for o in outcomes:
        if not o.ok:
            reasons[o.index] = f"{o.status}: {o.reason}"
    if not scored:
        return None, reasons
    sign = 1 if ctx.task.manifest.metric.direction == "maximize" else -1
    best = max(scored, key=lambda o: (sign * (o.score(ctx.select) or 0.0), -o.index))
    for o in scored:
        if o is not best:
            reasons[o.index] = f"not the best candidate of its generation (c{best.index} was)"
    best_score = best.score(ctx.select) or 0.0
    if incumbent is not None and not ctx.beats(best_score, incumbent):
        reasons[best.index] = f"{best_score:.4f} does not beat the incumbent's {incumbent:.4f}" + (
            f" by more than {ctx.cfg.min_improvement:g}" if ctx.cfg.min_improvement else ""
        )
        return None, reasons
    return best.index, reasons
