"""Generation 1 written by the Meta-Agent from the task description, run and scored; or, when it
writes no usable agent, what it tried (the loop then starts from the reference agent)."""

from __future__ import annotations

from dataclasses import dataclass

from sia_git import history as H
from sia_git.agents import meta
from sia_git.errors import SiaError
from sia_git.evolve.candidates import Outcome
from sia_git.evolve.context import Context
from sia_git.llm.client import BudgetExhausted, ModelAuthError
from sia_git.runs import ENTRY

META_TRANSCRIPT = "meta-transcript.json"


@dataclass
class FirstAgent:
    files: dict[str, bytes]
    outcome: Outcome
    model: str
    improvement: str


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
        out = ctx.attempt(0, None, {ENTRY: source.encode()}, 1, tag="-meta")
        return (None if out.ok else f"it was run and {out.status}: {out.reason}"), out

    try:
        result = meta.write_first_agent(client, ctx.task, ctx.dataset, ctx.cfg.meta_retries,
                                        ctx.models.target is not None, trial)
    except ModelAuthError as exc:
        raise SiaError(f"the Meta-Agent's model refused the key: {exc}") from None
    except BudgetExhausted as exc:
        raise SiaError(f"the budget ran out before generation 1 was written: {exc}") from None
    transcript = result.conversation.transcript("accepted" if result.source else
                                                f"failed: {result.error}")
    if result.source is None:
        ctx.echo(f"warning: the Meta-Agent ({client.profile.model}) wrote no usable agent in "
                 f"{result.conversation.calls} call(s): {result.error}; generation 1 is the "
                 "task's reference agent instead")
        return MetaFailure(transcript, result.cost_usd, result.error or "")
    out: Outcome = result.payload
    out.cost_usd += result.cost_usd
    out.traces[META_TRANSCRIPT] = transcript
    improvement = (f"# gen 1: written by the Meta-Agent\n\nThe starting point: an agent the "
                   f"Meta-Agent ({client.profile.model}) wrote from the task description "
                   f"(`task.md`), its public files and its reference agent, in "
                   f"{result.conversation.calls} call(s). Later generations must beat its "
                   f"score.\n\nTranscript: `{META_TRANSCRIPT}` in the attempt record "
                   f"`{H.ref(ctx.run_id, 'attempts', 'g0001')}` (under c0/).\n")
    return FirstAgent({ENTRY: result.source.encode()}, out, client.profile.model, improvement)
