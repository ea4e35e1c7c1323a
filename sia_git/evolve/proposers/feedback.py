"""The Feedback-Agent proposer: one Feedback-Agent per candidate reads the run (RunView) and
changes the agent's harness, hands the knobs to the optimiser, or asks for a LoRA update.

A model that misbehaves yields a failed candidate (recorded like any other), never an exception.
A refused key and a spent budget also fail the candidate; the loop sees them (on the clients and
the budget) and stops the run after it has recorded the generation.
"""

from __future__ import annotations

import threading

from sia_git import history as H
from sia_git import knobs as knobmod
from sia_git.agents import meta
from sia_git.agents.feedback import FeedbackAgent, FeedbackResult, Finish
from sia_git.agents.runview import RunView
from sia_git.evolve.context import Context
from sia_git.evolve.levers import KnobProposer, train_table, weights_proposal
from sia_git.evolve.proposal import Proposal
from sia_git.evolve.proposers.base import Maker, Proposer, Round
from sia_git.llm import prompts
from sia_git.llm.client import supports_tools
from sia_git.records import Status
from sia_git.runs import ENTRY
from sia_git.weights import hparams
from sia_git.weights.hparams import HParams


def edit_format(ctx: Context) -> str:
    """--edit-format, else the profile's, else what litellm knows of the model: tools, text, or
    `probe` for a model it does not know (tools first; text from a first reply without them)."""
    if ctx.cfg.edit_format != "auto":
        return ctx.cfg.edit_format
    client = ctx.models.proposer
    assert client is not None
    if client.profile.edit_format:
        return client.profile.edit_format
    known = supports_tools(client.profile.model)
    return "probe" if known is None else ("tools" if known else "text")


class FeedbackAgents(Proposer):
    name = "feedback"
    needs_model = True

    def describe(self) -> str:
        ctx = self.ctx
        target = ctx.models.target
        edits = edit_format(ctx).replace("probe", "tools, else text")
        return (
            f"{ctx.models.proposer_name} (edits by {edits})"
            + (f", target model {target.profile.model} via the gateway" if target else "")
            + (f", budget ${ctx.cfg.budget_usd:g}" if ctx.cfg.budget_usd else "")
        )

    def propose(self, rnd: Round) -> list[Maker]:
        ctx = self.ctx
        if not rnd.levers:
            ctx.echo(
                f"gen {rnd.gen}: stopping: the agent cannot be changed by the "
                f"{ctx.cfg.lever} lever (it declares no KNOBS/KNOB_SPACE)"
            )
            return []
        view = RunView(ctx.repo, ctx.run_id, rnd.hist, ctx.dataset, ctx.select)
        pool = KnobPool(ctx, rnd.hist, rnd.source, rnd.gen, rnd.adapter)
        return [
            lambda i=i: feedback_proposal(ctx, view, rnd.files, rnd.gen, i, pool, rnd.levers)
            for i in range(1, ctx.cfg.candidates + 1)
        ]


class KnobPool:
    """Knob settings for the candidates whose Feedback-Agent chose the knobs lever without
    editing: proposed once per generation by the optimiser, one distinct setting each."""

    def __init__(
        self, ctx: Context, hist: H.RunHistory, source: str, gen: int, adapter: str | None = None
    ) -> None:
        self._args = (ctx, hist, source, gen)
        self._adapter = adapter
        self._weights: list[HParams] | None = None
        self._lock = threading.Lock()
        self._proposals: list[Proposal] | None = None

    def take(self, index: int) -> Proposal | None:
        with self._lock:
            if self._proposals is None:
                ctx, hist, source, gen = self._args
                proposer = KnobProposer(
                    f"{ctx.task.name}/{ctx.cfg.seed}", ctx.task.manifest.metric.direction
                )
                try:
                    self._proposals = proposer.propose(
                        source, hist.trials(self._adapter), gen, ctx.cfg.candidates
                    )
                except knobmod.KnobError:
                    self._proposals = []
            return self._proposals[index - 1] if index <= len(self._proposals) else None

    def take_weights(self, index: int) -> HParams:
        """LoRA settings for a candidate whose Feedback-Agent chose weights but gave none."""
        with self._lock:
            if self._weights is None:
                ctx, hist, _source, gen = self._args
                w = ctx.task.manifest.weights
                self._weights = hparams.propose(
                    hist.weight_trials(),
                    f"{ctx.task.name}/{ctx.cfg.seed}",
                    ctx.task.manifest.metric.direction,
                    gen,
                    ctx.cfg.candidates,
                    ctx.cfg.seed,
                    w.hparams if w else None,
                )
            return self._weights[(index - 1) % len(self._weights)]


def feedback_proposal(
    ctx: Context,
    view: RunView,
    files: dict[str, bytes],
    gen: int,
    index: int,
    knobs: KnobPool,
    levers: tuple[str, ...] = ("harness", "knobs"),
) -> Proposal:
    client = ctx.models.proposer
    assert client is not None
    inc, inc_score = view.hist.incumbent()
    contract = meta.contract_context(ctx.task, ctx.models.target is not None)
    metric = ctx.task.manifest.metric
    system = prompts.render(
        "feedback_system",
        **contract,
        select=ctx.select,
        metric=metric.name,
        direction="higher is better" if metric.direction == "maximize" else "lower is better",
        index=index,
        count=ctx.cfg.candidates,
        generation=gen,
        turns=ctx.cfg.feedback_turns,
        allow_rewrite=ctx.cfg.allow_rewrite,
        levers=levers,
        **_weights_context(ctx),
    )
    user = prompts.render(
        "feedback_user",
        **contract,
        select=ctx.select,
        incumbent_gen=inc.gen,
        incumbent_score="unknown" if inc_score is None else f"{inc_score:.4f}",
        agent_files=sorted(files),
        history=view.list_generations(),
    )
    agent = FeedbackAgent(
        client, view, ctx.cfg.feedback_turns, ctx.cfg.allow_rewrite, levers, edit_format(ctx)
    )
    result = agent.run(system, user, files)
    transcript = result.conversation.transcript(result.error or "finished")
    if result.error or result.finish is None:
        return _failed(
            files,
            client.profile.model,
            result.error or "no finish",
            Status.BUDGET_STOPPED if result.budget_stopped else Status.MODEL_FAILED,
            cost=result.conversation.cost_usd,
            transcript=transcript,
        )
    if result.finish.lever == "knobs" and not result.changed:
        return _knob_proposal(result, knobs.take(index), files, client.profile.model, transcript)
    new = result.files
    if result.finish.lever == "weights":
        f = result.finish
        w = ctx.task.manifest.weights
        hp = (
            HParams.model_validate({**(w.hparams if w else {}), "seed": ctx.cfg.seed, **f.train})
            if f.train is not None
            else knobs.take_weights(index)
        )
        p = weights_proposal(
            hp, new.get(ENTRY, b"").decode(), new, f.lever_reason, client.profile.model
        )
        p.improvement = (
            _improvement(f, client.profile.model) + "\n## Training\n\n" + train_table(p.train or {})
        )
        p.subject = f.subject
        p.cost_usd, p.transcript = result.conversation.cost_usd, transcript
        return p
    parsed = _read_knobs(new.get(ENTRY, b""))
    return Proposal(
        result.finish.lever,
        new.get(ENTRY, b"").decode(),
        result.finish.subject,
        _improvement(result.finish, client.profile.model),
        parsed,
        files=new,
        model=client.profile.model,
        lever_reason=result.finish.lever_reason,
        cost_usd=result.conversation.cost_usd,
        transcript=transcript,
    )


def _weights_context(ctx: Context) -> dict[str, str]:
    w = ctx.task.manifest.weights
    if w is None:
        return {}
    return {"base_model": w.base_model, "train_file": w.train_file, "objective": w.objective}


def _knob_proposal(
    result: FeedbackResult,
    knob: Proposal | None,
    files: dict[str, bytes],
    model: str,
    transcript: bytes,
) -> Proposal:
    cost = result.conversation.cost_usd
    assert result.finish is not None
    if knob is None:
        return _failed(
            files,
            model,
            "chose the knobs lever, but the agent declares no "
            "KNOBS/KNOB_SPACE or every setting was tried",
            cost=cost,
            transcript=transcript,
        )
    f = result.finish
    text = knob.improvement.split("\n", 2)[2]
    improvement = (
        f"# {knob.subject}\n\nLever: **knobs** — {f.lever_reason}\n\nThe "
        f"Feedback-Agent ({model}) chose the knobs lever and left the values to the "
        f"optimiser.\n\n## Diagnosis\n\n{f.diagnosis}\n\n## Hypothesis\n\n"
        f"{f.hypothesis}\n\n{text}"
    )
    return Proposal(
        "knobs",
        knob.source,
        knob.subject,
        improvement,
        knob.knobs,
        files={**files, ENTRY: knob.source.encode()},
        model=model,
        lever_reason=f.lever_reason,
        cost_usd=cost,
        transcript=transcript,
    )


def _improvement(f: Finish, model: str) -> str:
    return (
        f"# {f.subject}\n\nLever: **{f.lever}** — {f.lever_reason}\n\nWritten by the "
        f"Feedback-Agent ({model}).\n\n## Diagnosis\n\n{f.diagnosis}\n\n## Hypothesis\n\n"
        f"{f.hypothesis}\n\n## What changed\n\n{f.change}\n"
    )


def _failed(
    files: dict[str, bytes],
    model: str,
    why: str,
    status: Status = Status.MODEL_FAILED,
    cost: float = 0.0,
    transcript: bytes | None = None,
) -> Proposal:
    short = " ".join(why.split())[:100]
    improvement = (
        f"# feedback agent failed\n\nNo usable change came out of the Feedback-Agent "
        f"({model}): {why}\n\n## What changed\n\nNothing: the agent is the "
        "incumbent's.\n"
    )
    return Proposal(
        "harness",
        files.get(ENTRY, b"").decode(),
        f"no change ({short})",
        improvement,
        None,
        files=dict(files),
        model=model,
        cost_usd=cost,
        transcript=transcript,
        failed=why,
        failed_status=status,
    )


def _read_knobs(source: bytes) -> dict | None:
    try:
        parsed = knobmod.read(source.decode("utf-8", errors="replace"))
    except knobmod.KnobError:
        return None
    return parsed[0] if parsed else None
