"""Confirmation: re-run a freshly accepted generation with other seeds; if its gain does not
hold, `git revert` it with trailers saying why. The record is written before the revert, so a
kill between the two is finished on resume."""

from __future__ import annotations

from sia_git.evolve import recording as rec
from sia_git.evolve import selection, trying
from sia_git.evolve.candidates import Outcome
from sia_git.evolve.context import Context
from sia_git.forges import review
from sia_git.store import evidence, records
from sia_git.store import history as H
from sia_git.store import trailers as T
from sia_git.store.runs import agent_files


def confirm_tip(ctx: Context, hist: H.RunHistory) -> None:
    tip = hist.tip
    if ctx.cfg.confirm_runs == 0 or tip.kind != "generation" or (tip.gen or 1) <= 1:
        return
    if tip.gen in hist.confirmed:
        done = records.read_confirm(ctx.repo, ctx.run_id, tip.gen or 0)
        if done is not None and done.held is False:
            revert(ctx, tip, done)  # a kill came between the record and the revert
        return
    if ctx.models.budget.exhausted:
        return  # re-runs could not reach the target model; confirm when the run resumes
    attempt = records.read_attempt(ctx.repo, ctx.run_id, tip.gen or 0)
    incumbent = attempt.incumbent_score if attempt else None
    files = agent_files(ctx.repo, tip.sha)
    adapter = ctx.adapter_at(tip.sha)
    dev = trying.dev_inputs(ctx, None)  # (made by this run's candidates) only dev counts here
    reruns = [
        ctx.attempt(0, None, files, gen=tip.gen or 0, seed_offset=k, adapter=adapter, dataset=dev)
        for k in range(1, ctx.cfg.confirm_runs + 1)
    ]
    if ctx.models.budget.exhausted:
        return  # the re-runs were cut short by the budget: their scores prove nothing
    scores = [tip.score] + [o.score(ctx.select) for o in reruns]
    held = None not in scores
    mean = sum(s for s in scores if s is not None) / len(scores)
    pooled = _pooled(ctx, hist, reruns)
    if held and incumbent is not None:
        held = ctx.beats(mean, incumbent) and (pooled is None or pooled.significant)
    done = records.ConfirmRecord(
        generation=tip.gen or 0,
        commit=tip.sha,
        scores=scores,
        mean=mean,
        incumbent_score=incumbent,
        held=held,
        cost_usd=round(sum(o.cost_usd for o in reruns), 8),
        evidence=pooled.trailer() if pooled is not None else "",
    )
    rec.record_confirmation(ctx, done)
    shown = ", ".join("failed" if s is None else f"{s:.4f}" for s in scores)
    ctx.echo(f"gen {tip.gen}: confirmation {'held' if held else 'FAILED'} ({shown})")
    if not held:
        revert(ctx, tip, done)


def _pooled(ctx: Context, hist: H.RunHistory, reruns: list[Outcome]) -> evidence.Evidence | None:
    """A stochastic agent's re-runs enter the paired test: the accepted run's items and every
    re-run's, pooled against the incumbent's, at the level the generation was accepted at.
    None when the tip was accepted without paired evidence."""
    tip = hist.tip
    accepted = evidence.parse(tip.trailers.get(T.EVIDENCE))
    if accepted is None:
        return None
    parent = T.parents(tip.trailers.get(T.PARENT))
    base = hist.generation(parent[0]) if parent else None
    mine = selection.items_of(ctx, tip)
    theirs = selection.items_of(ctx, base) if base is not None else None
    if mine is None or theirs is None:
        return None
    runs = [mine] + [
        evidence.statuses(o.evaluation.splits[ctx.select].items)
        for o in reruns
        if o.evaluation is not None and ctx.select in o.evaluation.splits
    ]
    return evidence.paired(theirs, runs, lvl=accepted.level)


def revert(ctx: Context, tip: H.Entry, done: records.ConfirmRecord) -> None:
    inc = done.incumbent_score
    shown = ", ".join("failed" if s is None else f"{s:.4f}" for s in done.scores)
    why = f"gain did not hold on confirmation: runs scored {shown} (mean {done.mean:.4f})" + (
        f", not above the incumbent's {inc:.4f}" if inc is not None else ""
    )
    pooled = evidence.parse(done.evidence)
    if pooled is not None and not pooled.significant and (inc is None or done.mean > inc):
        why = (
            f"gain did not hold on confirmation: runs scored {shown}; pooled with its re-runs "
            f"the gain {pooled.says()} is within noise"
        )
    sha = rec.revert_generation(ctx, tip, why, score=inc)
    ctx.echo(f"gen {tip.gen}: reverted by {sha[:10]}: {why}")
    review.follow(ctx.repo, ctx.run_id, ctx.cfg.model_dump(), say=ctx.echo, revert=(tip, sha, why))
