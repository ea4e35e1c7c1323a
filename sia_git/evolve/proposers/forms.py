"""Knob forms: what a model that cannot edit code (it failed the tools and the text protocol)
still contributes. Each candidate is one short call asking for the agent's knob values as a JSON
object (levers/knob_form.py), under the knob schema where the server enforces one. The values are
checked against KNOB_SPACE and against every setting the run has tried."""

from __future__ import annotations

import threading

from sia_git.agents.conversation import Conversation
from sia_git.evolve.proposers.base import Maker, ProposerPort, Round
from sia_git.levers import knob_form
from sia_git.levers import knob_source as knobmod
from sia_git.levers.proposal import ENTRY, Improvement, Proposal
from sia_git.llm.client import BudgetExhausted, ModelError
from sia_git.store.records import Status

FORM_TOKENS = 200  # a knob form and its one-line hypothesis fit easily
TEMPERATURE = 0.8  # candidates of one generation should differ
ATTEMPTS = 2  # a form that repeats a tried setting is asked again once


def makers(port: ProposerPort, rnd: Round) -> list[Maker]:
    taken = _Taken()  # the generation's candidates propose distinct settings
    return [
        lambda i=i: form_proposal(port, rnd, index=i, taken=taken)
        for i in range(1, port.settings.candidates + 1)
    ]


class _Taken:
    def __init__(self) -> None:
        self.keys: list[dict] = []
        self._lock = threading.Lock()

    def claim(self, knobs: dict) -> bool:
        with self._lock:
            if knobs in self.keys:
                return False
            self.keys.append(knobs)
            return True


def form_proposal(port: ProposerPort, rnd: Round, *, index: int, taken: _Taken) -> Proposal:
    client = port.models.proposer
    assert client is not None
    model = client.profile.model
    parsed = knobmod.read(rnd.files[ENTRY].decode())
    if parsed is None:
        return _failed(rnd.files, model, "knob form: the agent declares no KNOBS/KNOB_SPACE")
    current, space = parsed
    history = [*rnd.hist.trials(rnd.adapter), *(port.prior if rnd.adapter is None else ())]
    convo = Conversation(client, "knob-form")
    task_md = port.task.task_md.read_text(encoding="utf-8", errors="replace")
    convo.messages += knob_form.messages(
        task_md, current, space, history=history, direction=port.direction
    )
    fmt = None
    if client.structured():
        schema = knob_form.schema(space, current)
        fmt = {"type": "json_schema", "json_schema": {"name": "knobs", "schema": schema}}
    convo.events.append(f"candidate {index}: " + ("schema enforced" if fmt else "JSON in text"))
    try:
        for attempt in range(ATTEMPTS):
            reply = convo.ask(max_tokens=FORM_TOKENS, temperature=TEMPERATURE,
                              response_format=fmt)  # fmt: skip
            knobs, hypothesis = knob_form.read(reply.content, current, space)
            if not knob_form.tried(knobs, space, history) and taken.claim(knobs):
                break
            if attempt + 1 == ATTEMPTS:
                raise knob_form.FormError("the form repeats a setting already tried")
            convo.user("That setting was tried already. Change other settings.")
    except (ModelError, knob_form.FormError) as exc:
        return _failed(rnd.files, model, f"knob form: {exc}", convo=convo)
    except BudgetExhausted as exc:
        return _failed(rnd.files, model, f"budget: {exc}", convo=convo,
                       status=Status.BUDGET_STOPPED)  # fmt: skip
    p = knob_form.proposal(rnd.files, current, knobs, hypothesis=hypothesis, model=model,
                           constrained=fmt is not None)  # fmt: skip
    p.cost_usd, p.transcript = convo.cost_usd, convo.transcript("finished")
    return p


def _failed(
    files: dict[str, bytes],
    model: str,
    why: str,
    *,
    convo: Conversation | None = None,
    status: Status = Status.MODEL_FAILED,
) -> Proposal:
    body = f"No usable knob form came from {model}: {why}\n\n## What changed\n\nNothing.\n"
    return Proposal(
        lever="knobs",
        improvement=Improvement(f"no change ({' '.join(why.split())[:100]})", body),
        files=dict(files),
        model=model,
        cost_usd=convo.cost_usd if convo else 0.0,
        transcript=convo.transcript(why) if convo else None,
        failed=why,
        failed_status=status,
    )
