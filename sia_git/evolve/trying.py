"""Trying a generation's candidates: propose each (in threads), reuse an identical candidate's
result, run the rest on the run's first stage (a sample of dev) when the task can be staged,
and run those that can still win on the whole of dev."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sia_git.core import faults
from sia_git.core.extensions import LEVERS
from sia_git.evolve import stages
from sia_git.evolve.candidates import Outcome
from sia_git.evolve.context import Context
from sia_git.levers.proposal import Improvement, InvalidProposal, Proposal, validate
from sia_git.llm.client import live_tokens


@dataclass(frozen=True)
class Job:
    """What a generation's candidates start from."""

    gen: int
    files: dict[str, bytes]  # the incumbent's agent folder
    adapter: str | None
    inc_score: float | None  # what they must beat (None: unknown)
    inc_items: dict[str, bool] | None = None  # its per-item results on dev, when known
    run_seconds: float | None = None  # generation 1's agent run, when known


def run_jobs(ctx: Context, jobs: list[tuple[int, Any]], job: Job) -> list[Outcome]:
    if not jobs:
        return []
    gen = job.gen

    def run(one: tuple[int, Any]) -> Outcome:
        index, make = one
        ctx.progress.state(gen, f"c{index}", "proposing")
        faults.point("proposing")
        with live_tokens(lambda n: ctx.progress.state(gen, f"c{index}", f"proposing: {n} tokens")):
            p = checked(make(), job.files)
        return _attempt(ctx, index, p, job=job)

    outcomes = _in_threads(run, jobs)
    staged = [o for o in outcomes if o.stage and not o.pruned]
    if not staged or job.inc_items is None:
        return outcomes
    why = stages.advancing(staged, job.inc_items, ctx.select)
    for o in staged:
        o.pruned = why[o.index] or ""
    going = [o for o in staged if not o.pruned and o.ok]
    full = {o.index: o for o in _in_threads(lambda o: _whole(ctx, o, job=job), going)}
    return [full.get(o.index, o) for o in outcomes]


def _in_threads(fn: Callable[[Any], Outcome], items: list[Any]) -> list[Outcome]:
    if not items:
        return []
    threads = ThreadPoolExecutor(max_workers=len(items))
    try:
        outcomes = list(threads.map(fn, items))
    except KeyboardInterrupt:
        # Do not wait for model calls in flight: the CLI exits at once (see cli.py), and
        # everything not yet recorded is redone on resume, as after a kill.
        threads.shutdown(wait=False, cancel_futures=True)
        raise
    except BaseException:
        threads.shutdown(wait=True)
        raise
    threads.shutdown(wait=True)
    return outcomes


def _attempt(ctx: Context, index: int, p: Proposal, *, job: Job) -> Outcome:
    """Try candidate `index`, or reuse the result of an identical one scored before."""
    index_ = ctx.reuse
    if index_ is None or p.failed or p.train is not None:  # training makes a new adapter
        return _on_dev(ctx, index, p, job=job)
    key = index_.key(p.files, job.adapter, ctx.cfg.seed)
    inc = job.inc_score
    found = index_.lookup(key, p, index, could_win=lambda s: inc is None or ctx.beats(s, inc))
    if found is not None:
        ctx.progress.state(job.gen, f"c{index}", "reused")
        return found
    stage = _stage(ctx, job)
    if stage is not None:
        out = ctx.attempt(index, p, p.files, gen=job.gen, adapter=job.adapter,
                          dataset=stage.dataset, tag="-sample")  # fmt: skip
        stages.on_sample(out, stage, ctx.select)
        out.key = key  # for the whole run, if it goes on
        return out
    out = _on_dev(ctx, index, p, job=job)
    out.key = key
    return out


def _on_dev(ctx: Context, index: int, p: Proposal, *, job: Job) -> Outcome:
    """Candidate `index` scored on the whole of dev (on the dev-only inputs, when the task's
    can be cut: its sealed scores wait until it is committed)."""
    dev = dev_inputs(ctx, job.inc_items)
    out = ctx.attempt(index, p, p.files, gen=job.gen, adapter=job.adapter, dataset=dev)
    if dev is not None:
        stages.on_dev_only(out)
    return out


def sealed_run(ctx: Context, o: Outcome, gen: int) -> None:
    """Give a committed candidate scored on the dev-only inputs its sealed scores: one run on
    the whole inputs, with its agent and adapter (its dev score stands)."""
    if not o.sealed_pending:
        return
    ctx.progress.state(gen, f"c{o.index}", "running for its sealed score")
    rerun = ctx.attempt(o.index, None, o.files, gen=gen, adapter=o.adapter, tag="-sealed")
    o.withheld, o.sealed_pending = rerun.withheld, False
    o.cost_usd += rerun.cost_usd
    if not rerun.ok:
        ctx.echo(f"gen {gen} c{o.index}: its run for a sealed score failed ({rerun.reason}); "
                 "no sealed score is released for it")  # fmt: skip


_cutting = threading.Lock()


def dev_inputs(ctx: Context, dev: dict[str, bool] | None) -> Path | None:
    """The run's dev-only inputs, made once `dev` (the incumbent's dev items) is known."""
    with _cutting:
        if ctx.dev_inputs is None and dev:
            made = stages.dev_only(ctx.task, ctx.dataset, ctx.paths.scratch / "dataset-dev",
                                   dev=set(dev))  # fmt: skip
            ctx.dev_inputs = made if made is not None else False
        return ctx.dev_inputs if isinstance(ctx.dev_inputs, Path) else None


def _whole(ctx: Context, staged: Outcome, *, job: Job) -> Outcome:
    """A staged candidate that went on, scored on the whole of dev."""
    assert staged.proposal is not None
    p = staged.proposal
    out = _on_dev(ctx, staged.index, p, job=job)
    out.key, out.stage = staged.key, f"full (after the {staged.stage})"
    out.cost_usd += staged.cost_usd - p.cost_usd  # the sample's gateway calls, once
    return out


_staging = threading.Lock()  # a generation's candidates ask for the stage at once


def _stage(ctx: Context, job: Job) -> stages.Stage | None:
    """The run's first stage, made at its first comparison (None: this task is scored whole)."""
    with _staging:
        return _made_stage(ctx, job)


def _made_stage(ctx: Context, job: Job) -> stages.Stage | None:
    if ctx.stage is None and job.run_seconds is not None and job.run_seconds < stages.MIN_RUN_S:
        ctx.stage = False
        ctx.echo(
            f"staged evaluation: off, generation 1's agent ran {job.run_seconds:.1f} s (a "
            f"sample saves time only where a run takes {stages.MIN_RUN_S:.0f} s or more)"
        )
    if ctx.stage is None and job.inc_items is not None:
        made = stages.prepare(ctx.task, ctx.dataset, ctx.paths.scratch / "dataset-sample",
                              dev=job.inc_items, fraction=ctx.cfg.stage,
                              seed=ctx.cfg.seed)  # fmt: skip
        ctx.stage = made if made is not None else False
        if made is not None:
            ctx.echo(f"staged evaluation: candidates are scored on a {made.label()} dev items "
                     "first (--stage)")  # fmt: skip
    return ctx.stage if isinstance(ctx.stage, stages.Stage) else None


def checked(p: object, files: dict[str, bytes]) -> Proposal:
    """A proposer's proposal, or a failed one saying what was wrong with it."""
    try:
        return validate(p, LEVERS.implementations())
    except InvalidProposal as exc:
        model = getattr(p, "model", None) if isinstance(p, Proposal) else None
        return Proposal(
            lever="harness",
            files=dict(files),
            improvement=Improvement("no change (an invalid proposal)", f"{exc}\n"),
            model=model,
            failed=f"the proposal is invalid: {exc}",
        )
