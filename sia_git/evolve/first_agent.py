"""Generation 1: written by the Meta-Agent from the task description, or, when it writes no
usable agent (what it tried is kept), the reference agent or an --agent file; run, scored and
committed as the first commit of the run's branch."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sia_git.agents import meta
from sia_git.core.errors import SiaError
from sia_git.evolve import lines
from sia_git.evolve import recording as rec
from sia_git.evolve.candidates import Outcome
from sia_git.evolve.context import Context
from sia_git.evolve.release import release
from sia_git.levers import knob_source as knobmod
from sia_git.levers.proposal import Improvement
from sia_git.llm.client import BudgetExhausted, ModelAuthError, live_tokens
from sia_git.store import history as H
from sia_git.store import refs
from sia_git.store import trailers as T
from sia_git.store.records import Status
from sia_git.store.runs import ENTRY, RUN_TOML
from sia_git.tasks.layout import run_toml, task_copy
from sia_git.tasks.splits import manifest_path

META_TRANSCRIPT = "meta-transcript.json"
_RULE = re.compile(r":\d+: ([A-Za-z][\w.-]*) ")  # a finding's rule id


@dataclass
class FirstAgent:
    files: dict[str, bytes]
    outcome: Outcome
    model: str
    improvement: Improvement


@dataclass
class MetaFailure:
    """The Meta-Agent wrote no usable agent: its transcript and cost go into generation 1's
    record all the same."""

    transcript: bytes
    cost_usd: float
    why: str


def meta_first_agent(ctx: Context) -> FirstAgent | MetaFailure:
    """Generation 1 written by the Meta-Agent, already run and scored, or why it could not write
    a usable agent (the caller falls back to the reference agent and says so)."""
    client = ctx.models.proposer
    assert client is not None

    def trial(source: str) -> tuple[str | None, Outcome]:
        out = ctx.attempt(0, None, {ENTRY: knobmod.spaced(source).encode()}, gen=1, tag="-meta")
        return (None if out.ok else f"it was run and {out.status}: {out.reason}"), out

    def shown(n: int) -> None:
        ctx.progress.state(1, "meta", f"writing the first agent: {n} tokens")

    try:
        with live_tokens(shown):
            result = meta.write_first_agent(
                client,
                ctx.task,
                ctx.dataset,
                retries=ctx.cfg.meta_retries,
                gateway=ctx.models.target is not None,
                trial=trial,
            )
    except ModelAuthError as exc:
        raise SiaError(f"the Meta-Agent's model refused the key: {exc}") from None
    except BudgetExhausted as exc:
        # Generation 1 is still written (the reference agent), so the run and what the
        # Meta-Agent spent are recorded, and `evolve --run` with more budget goes on from it.
        spent = ctx.models.budget.spent_usd
        ctx.echo(
            f"warning: the budget ran out while the Meta-Agent wrote generation 1 ({exc}); "
            f"generation 1 is the task's reference agent, with the ${spent:.4f} spent"
        )
        return MetaFailure(b"", spent, f"the budget ran out: {exc}")
    transcript = result.conversation.transcript(
        "accepted" if result.source else f"failed: {result.error}"
    )
    if result.source is None:
        ctx.echo(
            f"warning: the Meta-Agent ({client.profile.model}) wrote no usable agent in "
            f"{result.conversation.calls} call(s): {result.error}; generation 1 is the "
            "task's reference agent instead"
        )
        return MetaFailure(transcript, result.cost_usd, result.error or "")
    out: Outcome = result.payload
    out.cost_usd += result.cost_usd
    out.traces[META_TRANSCRIPT] = transcript
    improvement = Improvement(
        "gen 1: written by the Meta-Agent",
        f"The starting point: an agent the "
        f"Meta-Agent ({client.profile.model}) wrote from the task description "
        f"(`task.md`), its public files and its reference agent, in "
        f"{result.conversation.calls} call(s). Later generations must beat its "
        f"score.\n\nTranscript: `{META_TRANSCRIPT}` in the attempt record "
        f"`{H.ref(ctx.run_id, 'attempts', 'g0001')}` (under c0/).\n",
    )
    files = {ENTRY: knobmod.spaced(result.source).encode()}  # as trial() ran it
    return FirstAgent(files, out, client.profile.model, improvement)


def seed_generation(ctx: Context) -> None:
    """Generation 1: the Meta-Agent's agent, an --agent file or the task's reference agent,
    run, scored and committed on the run's new branch."""
    ctx.progress.generation(1)
    first = (
        meta_first_agent(ctx)
        if (ctx.models.proposer is not None and ctx.cfg.agent is None)
        else None
    )
    if isinstance(first, FirstAgent):
        files, out, what, model = first.files, first.outcome, "Meta-Agent", first.model
        improvement = first.improvement
    else:
        source = ctx.cfg.agent or ctx.task.reference_agent
        what = f"agent {source.name}" if ctx.cfg.agent else "reference agent"
        files, model = {ENTRY: _spaced(source.read_bytes())}, None
        out = ctx.attempt(0, None, files, gen=1)
        if ctx.reuse is not None:  # a later candidate identical to it reuses its result
            out.key = ctx.reuse.key(files, None, ctx.cfg.seed)
        body = (
            f"The starting point: {what} for task "
            f"`{ctx.task.name}`, unchanged. Later generations must beat its score.\n"
        )
        if first is not None:  # the Meta-Agent was asked first and failed
            out.cost_usd += first.cost_usd
            if first.transcript:
                out.traces[META_TRANSCRIPT] = first.transcript
            body += (
                f"\nThe Meta-Agent was asked first and wrote no usable agent "
                f"({first.why}); its transcript is kept in the attempt record.\n"
            )
        improvement = Improvement(f"gen 1: {what}", body)
    if not out.ok:
        failed = _failed(out) + allow_hint(out, manifest_path(ctx.task))
        raise SiaError(f"generation 1 ({what}) {failed}; {_record_failure(ctx, out)}")
    release(ctx.task, None, out)  # generation 1 is committed: its sealed score is released
    settings = ctx.cfg.model_dump()
    parsed = _knobs(files)
    trailers = [(T.KNOBS, T.knobs_value(parsed))] if parsed else []
    if META_TRANSCRIPT in out.traces:
        trailers.append((T.TRANSCRIPT, refs.transcript(ctx.run_id, 1, 0, name=META_TRANSCRIPT)))
    sha = rec.record_first(ctx, rec.FirstGen(
        outcome=out,
        subject=f"{what} for {ctx.task.name}",
        improvement=improvement,
        files={RUN_TOML: run_toml(ctx.run_id, ctx.task, settings, repo_root=ctx.repo.root).encode(),
               **task_copy(ctx.task)},
        trailers=trailers,
        model=model,
    ))  # fmt: skip
    ctx.echo(f"gen 1: {what}  {lines.scores(ctx, out)}{lines.cost(ctx, out)}  committed {sha[:10]}")
    ctx.progress.best(1, out.score(ctx.select))
    if (warning := unanswered(out, ctx.select)) is not None:
        ctx.echo(f"warning: generation 1 {warning}")


def unanswered(out: Outcome, split: str) -> str | None:
    """What to warn about when generation 1 answered none of the split's items (an agent that
    writes no outputs was once committed at 0.0000 without a word): every later candidate
    only has to answer something to beat it."""
    scored = out.evaluation.splits.get(split) if out.evaluation else None
    items = scored.items if scored is not None else []
    if not items or any(i.get("status") not in ("missing", "invalid") for i in items):
        return None
    return (f"gave no usable answer for any of the {len(items)} {split} items (its outputs "
            "are missing or invalid): check that it writes the files task.md asks for")  # fmt: skip


def _spaced(data: bytes) -> bytes:
    """An agent file with its KNOBS one per line, a blank line between (knob_source.write):
    so that the first knob generation changes only its own lines, and a plain `git revert` of
    it applies beside later changes to other knobs."""
    try:
        return knobmod.spaced(data.decode()).encode()
    except UnicodeDecodeError:
        return data  # the gates say what is wrong with it


def _failed(out: Outcome) -> str:
    verdict = {
        Status.GATE_FAILED: "failed its gates",
        Status.TIMED_OUT: "timed out",
        Status.EVAL_FAILED: "could not be scored (is the task's evaluator broken?)",
    }.get(out.status, str(out.status))
    reason = out.reason
    return reason if reason.startswith(verdict) else f"{verdict}: {reason}"


def allow_hint(out: Outcome, manifest: str) -> str:
    """For a task's own agent that breaks a gate rule on purpose (a shell tool, a key it
    reads): the task.toml key that allows it (the sandbox still contains what it does)."""
    rules = sorted({m for g in out.gates if not g.passed for m in _RULE.findall(g.report)})
    if out.status != Status.GATE_FAILED or not rules:
        return ""
    listed = ", ".join(f'"{r}"' for r in rules)
    return (
        f" (if the task's agents may do this, allow it in {manifest}: [agent] "
        f"allow_rules = [{listed}])"
    )


def _record_failure(ctx: Context, out: Outcome) -> str:
    """Keep a failed generation 1 like any candidate (its record, traces and gateway log on
    the run's attempt ref), drop its scratch space, and say where the record is."""
    ref = rec.record_first_failure(ctx, out)
    ctx.drop_scratch()
    shown = next((f"c0/{n}" for n in ("sia-hint.txt", "stderr.txt") if n in out.traces), "")
    return (
        f"its record is {ref} (`git show {ref}:{shown or 'attempt.json'}`); fix the agent or "
        "the task and start a new run"
    )


def _knobs(files: dict[str, bytes]) -> dict | None:
    try:
        parsed = knobmod.read(files[ENTRY].decode())
    except knobmod.KnobError:
        return None
    return parsed[0] if parsed else None
