"""A generation's verdict: which candidate, if any, beats the incumbent on the selection split
(dev). Only that candidate's sealed scores are released (evolve/release.py); the others' are
dropped here."""

from __future__ import annotations

from dataclasses import dataclass

from sia_git.evolve import trying
from sia_git.evolve.candidates import Outcome
from sia_git.evolve.context import Context
from sia_git.evolve.release import release
from sia_git.store import evidence, records, refs
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
    items = incumbent_items(ctx, hist) if score is not None else None
    done = tests_before(ctx, hist)
    accepted, reasons = select_best(ctx, outcomes, score, items=items, comparison=done + 1)
    if any(o.evidence is not None for o in outcomes):
        ctx.tests = done + 1
    for o in outcomes:
        if o.index == accepted:
            trying.sealed_run(ctx, o, gen)
            release(ctx.task, hist, o)
        o.withheld = {}
    inc, _ = hist.incumbent()
    return Verdict(gen=gen, hist=hist, incumbent=inc, incumbent_score=score, outcomes=outcomes,
                   accepted=accepted, reasons=reasons)  # fmt: skip


def tests_before(ctx: Context, hist: H.RunHistory) -> int:
    """Paired tests the run has made: generations with a weighed candidate in their attempt
    records (read once per invocation, then counted as they are made)."""
    if ctx.tests is None:
        names = [f"{refs.attempts(ctx.run_id, g)}:{records.ATTEMPT_FILE}" for g in hist.attempts]
        blobs = ctx.repo.read_files(names)
        ctx.tests = sum(
            1
            for name in names
            if (rec := records.parse(records.AttemptRecord, blobs.get(name), name)) is not None
            and any(c.evidence for c in rec.candidates)
        )
    return ctx.tests


def incumbent_items(ctx: Context, hist: H.RunHistory) -> dict[str, bool] | None:
    """The incumbent's per-item results on the selection split."""
    return items_of(ctx, hist.incumbent()[0])


def items_of(ctx: Context, e: H.Entry) -> dict[str, bool] | None:
    """A generation's per-item results on the selection split, from its attempt record (None
    when it has none: a metric that is not a mean over items, an old run)."""
    record = records.read_attempt(ctx.repo, ctx.run_id, e.gen) if e.gen else None
    cand = None
    if record is not None:
        cand = next((c for c in record.candidates if c.commit == e.sha), None)
    items = cand.items.get(ctx.select) if cand is not None else None
    return evidence.statuses(items) if items else None


def first_run_seconds(ctx: Context, hist: H.RunHistory) -> float | None:
    """How long generation 1's agent ran (on the whole inputs), from its attempt record: what
    one candidate costs to score. Read once per run; None when it has no such record."""
    if ctx.first_run_s is None:
        first = next((e for e in hist.branch if e.gen == 1 and e.kind == "generation"), None)
        record = records.read_attempt(ctx.repo, ctx.run_id, 1) if first else None
        cand = None
        if record is not None and first is not None:
            cand = next((c for c in record.candidates if c.commit == first.sha), None)
        seconds = records.run_seconds(cand)
        ctx.first_run_s = seconds if seconds is not None else False
    return ctx.first_run_s if isinstance(ctx.first_run_s, float) else None


def weigh(
    ctx: Context, o: Outcome, items: dict[str, bool] | None, *, lvl: float
) -> evidence.Evidence | None:
    """`o`'s paired evidence against the incumbent's items, kept on the outcome; None when
    either lacks per-item results or the metric is not a share of correct items."""
    ev = o.evaluation.splits.get(ctx.select) if o.evaluation else None
    if items is None or ev is None or not ev.items:
        return None
    if ctx.task.manifest.metric.direction != "maximize":
        return None
    o.evidence = evidence.paired(items, [evidence.statuses(ev.items)], lvl=lvl)
    return o.evidence


def select_best(
    ctx: Context,
    outcomes: list[Outcome],
    incumbent: float | None,
    *,
    items: dict[str, bool] | None = None,
    comparison: int = 1,
) -> tuple[int | None, dict[int, str]]:
    """Pick the best candidate on the selection split if it beats the incumbent, and, where
    both have per-item results, by more than noise (evidence.py)."""
    reasons: dict[int, str] = {}
    scored = [o for o in outcomes if o.ok and o.score(ctx.select) is not None and not o.pruned]
    for o in outcomes:
        if not o.ok:
            reasons[o.index] = f"{o.status}: {o.reason}"
        elif o.pruned:
            reasons[o.index] = o.pruned
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
    if incumbent is None or items is None:
        return best.index, reasons
    lvl = evidence.level(ctx.cfg.accept, comparison, len(scored))
    proof = weigh(ctx, best, items, lvl=lvl)
    if proof is not None and not proof.significant:
        reasons[best.index] = f"its gain {proof.says()} is within noise (needs p <= {lvl:.3g})"
        return None, reasons
    return best.index, reasons
