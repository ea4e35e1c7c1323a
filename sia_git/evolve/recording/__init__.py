"""The only code of the loop that writes to git (objects, refs, notes) or moves the run's
worktree: a generation's candidate commits, its attempt record and its one ref transaction;
generation 1; a failed generation 1's record; confirmation records and reverts; stop records;
notes (rebuilt if a kill lost them). The loop hands it typed values (`Verdict`, `FirstGen`,
`records.ConfirmRecord`), never loose arguments. `build` makes what is written without git,
`primitives` writes it."""

from __future__ import annotations

from dataclasses import dataclass, field

from sia_git import levers
from sia_git.evolve.candidates import TRANSCRIPT, Outcome
from sia_git.evolve.context import Context
from sia_git.evolve.recording.build import Facts, attempt_record, message, outcome_record
from sia_git.evolve.recording.primitives import (
    Publication,
    attempt_tree,
    candidate_files,
    candidate_tree,
    ensure_notes,
    publish,
    record_stop,
    write_notes,
)
from sia_git.evolve.selection import Verdict
from sia_git.gitrepo.worktrees import kept_line
from sia_git.levers.proposal import Improvement
from sia_git.store import history as H
from sia_git.store import refs
from sia_git.store import trailers as T
from sia_git.store.records import CONFIRM_FILE, ConfirmRecord
from sia_git.weights import pins

__all__ = [
    "FirstGen",
    "Verdict",
    "checkout",
    "ensure_notes",
    "outcome_record",
    "record_confirmation",
    "record_first",
    "record_first_failure",
    "record_generation",
    "revert_generation",
    "stop",
]


def record_generation(ctx: Context, v: Verdict) -> dict[int, str]:
    """Every candidate of generation `v.gen` as a commit, the accepted one on the branch and
    the rest on rejected refs, its attempt record: one transaction; then the notes. Returns
    the commits by candidate index."""
    # Every candidate's tree at once: a few git processes for the generation, not per candidate.
    trees = ctx.repo.make_trees(v.hist.tip.sha, [_candidate_files(ctx, v, o) for o in v.outcomes])
    made = ctx.repo.make_commits(
        [_candidate_commit(ctx, v, o, tree=t) for o, t in zip(v.outcomes, trees, strict=True)]
    )
    commits = {o.index: sha for o, sha in zip(v.outcomes, made, strict=True)}
    record = attempt_record(
        run_id=ctx.run_id, gen=v.gen, select=ctx.select, incumbent=v.incumbent_score,
        outcomes=v.outcomes, accepted=v.accepted, commits=commits, reasons=v.reasons,
    )  # fmt: skip
    publish(ctx.repo, Publication(
        run_id=ctx.run_id, gen=v.gen, commits=commits, accepted=v.accepted,
        branch_old=v.hist.tip.sha, record=record,
        record_tree=attempt_tree(ctx.repo, record, v.outcomes),
    ))  # fmt: skip
    if v.accepted is not None and (kept := ctx.repo.sync_worktree(ctx.paths.worktree)):
        ctx.echo(kept_line(ctx.paths.worktree, kept))
    write_notes(ctx.repo, record)
    return commits


def _candidate_files(ctx: Context, v: Verdict, o: Outcome) -> dict[str, bytes | None]:
    """What one candidate's commit changes on the tip."""
    assert o.proposal is not None
    pin = (
        {pins.PIN: ctx.weights.pin(o.adapter).dump()}
        if (ctx.weights is not None and o.adapter is not None)
        else None
    )
    return candidate_files(o, gen=v.gen, improvement=o.proposal.improvement.markdown(), extra=pin)


def _candidate_commit(
    ctx: Context, v: Verdict, o: Outcome, *, tree: str
) -> tuple[str, list[str], str]:
    """One candidate's commit (tree, parents, message), on top of the tip (its ref comes with
    the rest)."""
    assert o.proposal is not None
    extra = [(T.CANDIDATE, f"{o.index}/{len(v.outcomes)}")]
    if o.index != v.accepted:
        extra.append((T.REJECTED, v.reasons[o.index]))
    improvement = o.proposal.improvement
    if o.evidence is not None:
        extra.append((T.EVIDENCE, o.evidence.trailer()))
    if o.stage:
        extra.append((T.STAGE, o.stage))
    if o.proposal.lever_reason:
        extra.append((T.LEVER_REASON, o.proposal.lever_reason))
    if o.proposal.origin:
        extra.append((T.TRANSFERRED_FROM, o.proposal.origin))
    if TRANSCRIPT in o.traces:
        extra.append((T.TRANSCRIPT, refs.transcript(ctx.run_id, v.gen, o.index, name=TRANSCRIPT)))
    extra += levers.get(o.proposal.lever).trailers(o.proposal)
    if o.adapter is not None:
        hub = f" hf://{ctx.cfg.hub_repo}" if ctx.cfg.hub_repo else ""
        extra.append((T.ADAPTER, o.adapter + hub))
    facts = Facts(run_id=ctx.run_id, gen=v.gen, parent_gen=v.incumbent.gen, task=ctx.task,
                  subject=improvement.title, improvement=improvement, extra=extra,
                  model=o.proposal.model, also_from=o.proposal.also_from)  # fmt: skip
    return tree, [v.hist.tip.sha], message(o, facts)


@dataclass(frozen=True, kw_only=True)
class FirstGen:
    """Generation 1 as it is committed: the run's first commit, on the user's HEAD."""

    outcome: Outcome
    subject: str
    improvement: Improvement
    files: dict[str, bytes | None]  # run.toml and the task copy, beside the agent
    trailers: list[tuple[str, str]] = field(default_factory=list)
    model: str | None = None


def record_first(ctx: Context, first: FirstGen) -> str:
    """Commit generation 1, start the run's branch and refs, check the worktree out."""
    base = ctx.repo.rev_parse("HEAD")
    assert base is not None
    out = first.outcome
    tree = candidate_tree(ctx.repo, base, out, gen=1, improvement=first.improvement.markdown(),
                          extra=first.files)  # fmt: skip
    facts = Facts(run_id=ctx.run_id, gen=1, parent_gen=None, task=ctx.task,
                  subject=first.subject, improvement=first.improvement,
                  extra=first.trailers, model=first.model)  # fmt: skip
    sha = ctx.repo.commit(tree, [base], message(out, facts))
    record = attempt_record(run_id=ctx.run_id, gen=1, select=ctx.select, incumbent=None,
                            outcomes=[out], accepted=0, commits={0: sha}, reasons={})  # fmt: skip
    publish(ctx.repo, Publication(
        run_id=ctx.run_id, gen=1, commits={0: sha}, accepted=0, branch_old=None, record=record,
        record_tree=attempt_tree(ctx.repo, record, [out]),
        extra_refs=[(H.ref(ctx.run_id, "base"), base, None)],
    ))  # fmt: skip
    checkout(ctx)
    write_notes(ctx.repo, record)
    return sha


def record_first_failure(ctx: Context, out: Outcome) -> str:
    """A failed generation 1, kept like any candidate on its attempt ref; returns the ref."""
    record = attempt_record(run_id=ctx.run_id, gen=1, select=ctx.select, incumbent=None,
                            outcomes=[out], accepted=None, commits={},
                            reasons={0: out.reason})  # fmt: skip
    publish(ctx.repo, Publication(
        run_id=ctx.run_id, gen=1, commits={}, accepted=None, branch_old=None, record=record,
        record_tree=attempt_tree(ctx.repo, record, [out]),
    ))  # fmt: skip
    return H.ref(ctx.run_id, "attempts", "g0001")


def record_confirmation(ctx: Context, done: ConfirmRecord) -> None:
    tree = ctx.repo.make_tree(None, {CONFIRM_FILE: done.dumps()})
    subject = f"sia confirmation: run {ctx.run_id} gen {done.generation}"
    record = ctx.repo.commit(
        tree, [], T.render(subject, "", [(T.COST, format(done.cost_usd, ".12g"))])
    )
    ctx.repo.update_refs([(refs.confirmed(ctx.run_id, done.generation), record, None)])


def revert_generation(ctx: Context, tip: H.Entry, why: str, *, score: float | None) -> str:
    """`git revert` of `tip` on the run branch, its trailers saying what, why, and the score
    the branch is back to; returns the revert commit."""
    msg = T.render(
        f'Revert "{tip.subject}"',
        f"This reverts commit {tip.sha}.\n\nGeneration {tip.gen}'s {why}.",
        [(T.RUN, ctx.run_id), (T.REVERTS, tip.sha), (T.REASON, why),
         (T.SCORE, T.score_value(score))],
    )  # fmt: skip
    return ctx.repo.revert(ctx.paths.worktree, tip.sha, msg)


def checkout(ctx: Context) -> None:
    """The run's branch checked out in its worktree (made if missing)."""
    if kept := ctx.repo.ensure_worktree(ctx.paths.worktree, H.branch(ctx.run_id)):
        ctx.echo(kept_line(ctx.paths.worktree, kept))


def stop(ctx: Context, gen: int, why: str) -> None:
    record_stop(ctx.repo, run_id=ctx.run_id, gen=gen, kind="budget", why=why,
                spent_usd=ctx.models.budget.spent_usd, budget_usd=ctx.cfg.budget_usd)  # fmt: skip
