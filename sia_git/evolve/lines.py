"""What the loop prints about a candidate and a run."""

from __future__ import annotations

from sia_git.evolve import selection
from sia_git.evolve.candidates import Outcome
from sia_git.evolve.context import Context
from sia_git.store import evidence
from sia_git.store import history as H
from sia_git.store import trailers as T


def scores(ctx: Context, o: Outcome) -> str:
    if not o.ok:
        return f"{o.status}: {o.reason}"
    shown = "  ".join(f"{s} {o.score(s):.4f}" for s in ctx.task.splits if o.score(s) is not None)
    if o.reused:
        shown += f"  (identical to {o.reused}: its result, not run again)"
    return shown + (f"  (warning: {o.note})" if o.note else "")


def cost(ctx: Context, o: Outcome) -> str:
    return f"  ${o.cost_usd:.4f}" if ctx.models.proposer or ctx.models.target else ""


def summary(ctx: Context, hist: H.RunHistory) -> None:
    inc, score = hist.incumbent()
    first = hist.generation(1)
    start = first.score if first else None
    gain = f" (generation 1: {start:.4f}{_gain(ctx, first, inc)})" if start is not None else ""
    sealed = T.read_float(inc.trailers.get(T.SCORE_TEST))
    if sealed is not None and score is not None:
        gain += f", sealed test {sealed:.4f}"
    ctx.echo(
        f"done: {H.branch(ctx.run_id)} at generation {inc.gen}, "
        f"{ctx.select} score {score if score is None else f'{score:.4f}'}{gain}."
        + (
            f" Spent ${ctx.models.budget.spent_usd:.4f} on models."
            if ctx.models.budget.spent_usd
            else ""
        )
        + f" Worktree: {ctx.paths.worktree}"
    )


def _gain(ctx: Context, first: H.Entry | None, best: H.Entry) -> str:
    """The best generation's gain over generation 1, item by item with its interval."""
    if first is None or best.gen is None or best.gen <= 1:
        return ""
    a, b = selection.items_of(ctx, first), selection.items_of(ctx, best)
    proof = evidence.paired(a, [b], lvl=None) if a and b else None
    return f"; gain {proof.says()}" if proof is not None else ""
