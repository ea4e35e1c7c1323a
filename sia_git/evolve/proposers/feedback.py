"""The Feedback-Agent proposer: one Feedback-Agent per candidate reads the run (RunView) and
changes the agent's harness, hands the knobs to the optimiser, or asks for a LoRA update.

A model that misbehaves yields a failed candidate (recorded like any other), never an exception.
A refused key and a spent budget also fail the candidate; the loop sees them (on the clients and
the budget) and stops the run after it has recorded the generation.
"""

from __future__ import annotations

import threading

from sia_git.agents import meta
from sia_git.agents.feedback import FeedbackAgent, FeedbackResult, Finish
from sia_git.agents.runview import RunView
from sia_git.evolve.proposers import forms
from sia_git.evolve.proposers.base import Maker, Proposer, ProposerPort, Round
from sia_git.levers import knob_source as knobmod
from sia_git.levers import lora as hparams
from sia_git.levers import weights as weights_lever
from sia_git.levers.knobs import KnobProposer
from sia_git.levers.proposal import ENTRY, Improvement, Proposal
from sia_git.llm import prompts
from sia_git.llm.client import supports_tools
from sia_git.store.records import Status
from sia_git.tasks.model_spec import HParams


def edit_format(port: ProposerPort) -> str:
    """--edit-format, else the profile's, else what litellm knows of the model: tools, text, or
    `probe` for a model it does not know (tools first; text from a first reply without them)."""
    if port.settings.edit_format != "auto":
        return port.settings.edit_format
    client = port.models.proposer
    assert client is not None
    if client.profile.edit_format:
        return client.profile.edit_format
    known = supports_tools(client.profile.model)
    return "probe" if known is None else ("tools" if known else "text")


class FeedbackAgents(Proposer):
    needs_model = True

    def describe(self) -> str:
        port = self.port
        target = port.models.target
        edits = edit_format(port).replace("probe", "tools, else text")
        return (
            f"{port.models.proposer_name} (edits by {edits})"
            + (f", target model {target.profile.model} via the gateway" if target else "")
            + (f", budget ${port.settings.budget_usd:g}" if port.settings.budget_usd else "")
        )

    forms_since: str | None = None  # why the model fills knob forms instead of editing

    def fallback(self, rnd: Round, why: str) -> list[Maker]:
        """A model that cannot edit code fills knob forms, from this generation on."""
        if "knobs" not in rnd.levers or self.forms_since is not None or _refused(why):
            return []
        self.forms_since = why
        return forms.makers(self.port, rnd)

    def propose(self, rnd: Round) -> list[Maker]:
        port = self.port
        if self.forms_since is not None and "knobs" in rnd.levers:
            port.echo(f"gen {rnd.gen}: the model fills knob forms (its code edits failed: "
                      f"{self.forms_since})")  # fmt: skip
            return forms.makers(port, rnd)
        if not rnd.levers:
            port.echo(
                f"gen {rnd.gen}: stopping: the agent cannot be changed by the "
                f"{port.settings.lever} lever (it declares no KNOBS/KNOB_SPACE)"
            )
            return []
        view = RunView(port.repo, port.run_id, rnd.hist, port.dataset, port.select)
        pool = KnobPool(port, rnd)
        return [
            lambda i=i: feedback_proposal(port, view, rnd, index=i, knobs=pool)
            for i in range(1, port.settings.candidates + 1)
        ]


class KnobPool:
    """Knob settings for the candidates whose Feedback-Agent chose the knobs lever without
    editing: proposed once per generation by the optimiser, one distinct setting each."""

    def __init__(self, port: ProposerPort, rnd: Round) -> None:
        self.port, self.rnd = port, rnd
        self._weights: list[HParams] | None = None
        self._lock = threading.Lock()
        self._proposals: list[Proposal] | None = None

    def take(self, index: int) -> Proposal | None:
        with self._lock:
            if self._proposals is None:
                port, rnd = self.port, self.rnd
                proposer = KnobProposer(port.seed_key, port.direction, port.strategy)
                try:
                    prior = list(port.prior) if rnd.adapter is None else []
                    self._proposals = proposer.propose(
                        rnd.files, rnd.hist.trials(rnd.adapter), rnd.gen,
                        n=port.settings.candidates, prior=prior, run_seconds=rnd.run_seconds,
                    )  # fmt: skip
                except knobmod.KnobError:
                    self._proposals = []
            return self._proposals[index - 1] if index <= len(self._proposals) else None

    def take_weights(self, index: int) -> HParams:
        """LoRA settings for a candidate whose Feedback-Agent chose weights but gave none."""
        with self._lock:
            if self._weights is None:
                port, rnd = self.port, self.rnd
                self._weights = hparams.propose(
                    rnd.hist.weight_trials(),
                    seed_key=port.seed_key,
                    direction=port.direction,
                    generation=rnd.gen,
                    n=port.settings.candidates,
                    seed=port.settings.seed,
                    task_defaults=port.weights_defaults,
                    strategy=port.strategy,
                )
            return self._weights[(index - 1) % len(self._weights)]


def feedback_proposal(
    port: ProposerPort, view: RunView, rnd: Round, *, index: int, knobs: KnobPool
) -> Proposal:
    client = port.models.proposer
    assert client is not None
    files, gen, levers = rnd.files, rnd.gen, rnd.levers
    settings = port.settings
    inc, inc_score = view.hist.incumbent()
    contract = meta.contract_context(port.task, port.models.target is not None)
    metric = port.task.manifest.metric
    system = prompts.render(
        "feedback_system",
        **contract,
        select=port.select,
        metric=metric.name,
        direction="higher is better" if metric.direction == "maximize" else "lower is better",
        index=index,
        count=settings.candidates,
        generation=gen,
        turns=settings.feedback_turns,
        allow_rewrite=settings.allow_rewrite,
        levers=levers,
        **_weights_context(port),
    )
    user = prompts.render(
        "feedback_user",
        **contract,
        select=port.select,
        incumbent_gen=inc.gen,
        incumbent_score="unknown" if inc_score is None else f"{inc_score:.4f}",
        agent_files=sorted(files),
        history=view.list_generations(),
    )
    agent = FeedbackAgent(
        client, view, settings.feedback_turns, settings.allow_rewrite, levers, edit_format(port)
    )
    result = agent.run(system, user, files)
    transcript = result.conversation.transcript(result.error or "finished")
    if result.error or result.finish is None:
        return _failed(
            files,
            client.profile.model,
            result.error or "no finish",
            status=Status.BUDGET_STOPPED if result.budget_stopped else Status.MODEL_FAILED,
            cost=result.conversation.cost_usd,
            transcript=transcript,
        )
    if result.finish.lever == "knobs" and not result.changed:
        return _knob_proposal(
            result, knobs.take(index), files, model=client.profile.model, transcript=transcript
        )
    new = result.files
    if result.finish.lever == "weights":
        f = result.finish
        defaults = port.weights_defaults or {}
        hp = (
            HParams.model_validate({**defaults, "seed": settings.seed, **f.train})
            if f.train is not None
            else knobs.take_weights(index)
        )
        p = weights_lever.proposal(hp, new, f.lever_reason, model=client.profile.model)
        body = _improvement(f, client.profile.model).body
        p.improvement = Improvement(
            f.subject, body + "\n## Training\n\n" + weights_lever.train_table(p.train or {})
        )
        p.cost_usd, p.transcript = result.conversation.cost_usd, transcript
        return p
    return Proposal(
        lever=result.finish.lever,
        files=new,
        improvement=_improvement(result.finish, client.profile.model),
        knobs=_read_knobs(new.get(ENTRY, b"")),
        model=client.profile.model,
        lever_reason=result.finish.lever_reason,
        cost_usd=result.conversation.cost_usd,
        transcript=transcript,
    )


def _refused(why: str) -> bool:
    """A failure no simpler ask avoids: the provider refuses the key."""
    return "refused the key" in why or "authentication" in why


def _weights_context(port: ProposerPort) -> dict[str, str]:
    w = port.task.manifest.weights
    if w is None:
        return {}
    return {"base_model": w.base_model, "train_file": w.train_file, "objective": w.objective}


def _knob_proposal(
    result: FeedbackResult,
    knob: Proposal | None,
    files: dict[str, bytes],
    *,
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
    body = (
        f"Lever: **knobs** — {f.lever_reason}\n\nThe "
        f"Feedback-Agent ({model}) chose the knobs lever and left the values to the "
        f"optimiser.\n\n## Diagnosis\n\n{f.diagnosis}\n\n## Hypothesis\n\n"
        f"{f.hypothesis}\n\n{knob.improvement.body}"
    )
    return Proposal(
        lever="knobs",
        files={**files, ENTRY: knob.source.encode()},
        improvement=Improvement(knob.subject, body),
        knobs=knob.knobs,
        model=model,
        lever_reason=f.lever_reason,
        cost_usd=cost,
        transcript=transcript,
    )


def _improvement(f: Finish, model: str) -> Improvement:
    return Improvement(
        f.subject,
        f"Lever: **{f.lever}** — {f.lever_reason}\n\nWritten by the "
        f"Feedback-Agent ({model}).\n\n## Diagnosis\n\n{f.diagnosis}\n\n## Hypothesis\n\n"
        f"{f.hypothesis}\n\n## What changed\n\n{f.change}\n",
    )


def _failed(
    files: dict[str, bytes],
    model: str,
    why: str,
    *,
    status: Status = Status.MODEL_FAILED,
    cost: float = 0.0,
    transcript: bytes | None = None,
) -> Proposal:
    short = " ".join(why.split())[:100]
    body = (
        f"No usable change came out of the Feedback-Agent ({model}): {why}\n\n"
        "## What changed\n\nNothing: the agent is the incumbent's.\n"
    )
    return Proposal(
        lever="harness",
        improvement=Improvement(f"no change ({short})", body),
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
