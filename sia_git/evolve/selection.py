"""A generation's verdict: which candidate, if any, beats the incumbent on the selection split
(dev), and the attempt record that says what happened to every candidate."""

from __future__ import annotations

from sia_git.evolve import recording as rec
from sia_git.evolve.candidates import Outcome
from sia_git.evolve.context import Context
from sia_git.records import AttemptRecord


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


def attempt_record(
    ctx: Context,
    gen: int,
    incumbent: float | None,
    outcomes: list[Outcome],
    accepted: int | None,
    commits: dict[int, str],
    reasons: dict[int, str] | None = None,
) -> AttemptRecord:
    cands = [
        rec.outcome_record(
            o,
            commits.get(o.index),
            "accepted" if o.index == accepted else (reasons or {}).get(o.index, ""),
        )
        for o in outcomes
    ]
    return AttemptRecord(
        run=ctx.run_id,
        generation=gen,
        incumbent_score=incumbent,
        select_split=ctx.select,
        accepted=accepted,
        candidates=cands,
    )
