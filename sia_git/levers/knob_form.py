"""Knob proposals a small model can make: a form (a JSON object of knob values, one line of
hypothesis) whose JSON schema is built from the agent's `KNOB_SPACE`. A server with structured
output (vLLM, llama.cpp, Ollama, `sia-git serve`) is asked for exactly that schema, so even a
135M model's answer parses; from any other server the first JSON object in the reply is read.
Either way the values are checked against the space before they become a candidate."""

from __future__ import annotations

import json
from typing import Any

from sia_git.core import jsontext
from sia_git.levers import knob_source as knobmod
from sia_git.levers.knob_source import Range, Space, Value
from sia_git.levers.proposal import ENTRY, Improvement, Proposal
from sia_git.levers.search import Trial

HYPOTHESIS_CHARS = 160
MAX_CHANGES = 3
SHOWN_TRIALS = 8  # the best settings scored so far, shown in the prompt


class FormError(ValueError):
    """The reply is not a usable knob form; the message says why."""


def schema(space: Space, current: dict[str, Value]) -> dict[str, Any]:
    """One to three changes, each a knob and a new value for it (the current value is left out
    of a choice or an integer range, so a form always changes something), and a hypothesis."""
    options = []
    for name, spec in space.items():
        value = _new_values(spec, current.get(name))
        if value is not None:
            options.append({
                "type": "object",
                "properties": {"knob": {"const": name}, "value": value},
                "required": ["knob", "value"],
                "additionalProperties": False,
            })  # fmt: skip
    return {
        "type": "object",
        "properties": {
            "changes": {
                "type": "array",
                "items": {"anyOf": options},
                "minItems": 1,
                "maxItems": MAX_CHANGES,
            },  # fmt: skip
            "hypothesis": {"type": "string", "maxLength": HYPOTHESIS_CHARS},
        },
        "required": ["changes", "hypothesis"],
        "additionalProperties": False,
    }


def _new_values(spec: list[Value] | Range, now: Value | None) -> dict[str, Any] | None:
    if not isinstance(spec, Range):
        others = [v for v in spec if v != now]
        return {"enum": others} if others else None
    if not spec.integer:
        return {"type": "number", "minimum": spec.low, "maximum": spec.high}
    low, high = int(spec.low), int(spec.high)
    parts = [(low, high)]
    if isinstance(now, int) and not isinstance(now, bool) and low <= now <= high:
        parts = [(a, b) for a, b in ((low, now - 1), (now + 1, high)) if a <= b]
    if not parts:
        return None
    ranges = [{"type": "integer", "minimum": a, "maximum": b} for a, b in parts]
    return ranges[0] if len(ranges) == 1 else {"anyOf": ranges}


def messages(
    task: str, current: dict[str, Value], space: Space, *, history: list[Trial], direction: str
) -> list[dict[str, str]]:
    scored = sorted((t for t in history if t.score is not None), key=lambda t: t.score or 0.0,
                    reverse=direction == "maximize")[:SHOWN_TRIALS]  # fmt: skip
    tried = "\n".join(f"- {json.dumps(t.knobs)}: {t.score:.4f}" for t in scored) or "- none yet"
    spaces = "\n".join(f"- {k}: {_describe(v)}" for k, v in space.items())
    return [
        {
            "role": "system",
            "content": "You tune the settings of a program. Answer with one JSON object: "
            '{"changes": [{"knob": NAME, "value": NEW_VALUE}], "hypothesis": ONE_LINE}, '
            f"changing one to {MAX_CHANGES} settings.",
        },
        {
            "role": "user",
            "content": f"Task: {task[:1500]}\n\nSettings and allowed values:\n"
            f"{spaces}\n\nCurrent settings: {json.dumps(current)}\n\nScored so far "
            f"({'higher' if direction == 'maximize' else 'lower'} is better):\n{tried}\n\n"
            "Propose new settings, not tried before, that should score better.",
        },
    ]


def _describe(spec: list[Value] | Range) -> str:
    if isinstance(spec, Range):
        kind = "integer" if spec.integer else "number"
        return f"{kind} from {spec.low:g} to {spec.high:g}"
    return "one of " + ", ".join(json.dumps(v) for v in spec)


def read(content: str, current: dict[str, Value], space: Space) -> tuple[dict[str, Value], str]:
    """The knob values and hypothesis in a reply; FormError when it has none that fit."""
    try:
        value = jsontext.first_object(content)
    except ValueError as exc:
        raise FormError(f"the reply: {exc}") from None
    changes = value.get("changes")
    if isinstance(changes, list):  # the form's shape
        pairs = [(c.get("knob"), c.get("value")) for c in changes if isinstance(c, dict)]
    else:  # a model that wrote the settings themselves
        pairs = [(k, v) for k, v in value.items() if k != "hypothesis"]
    knobs = dict(current)
    for name, v in pairs:
        spec = space.get(str(name))
        if spec is None:
            raise FormError(f"{name!r} is not a knob of this agent")
        fits = spec.contains(v) if isinstance(spec, Range) else v in spec
        if not fits:
            raise FormError(f"{name}={v!r} is outside its KNOB_SPACE")
        knobs[str(name)] = int(v) if isinstance(spec, Range) and spec.integer else v
    if _key(knobs, space) == _key(current, space):
        raise FormError("the form repeats the current settings")
    hypothesis = " ".join(str(value.get("hypothesis", "")).split())[:HYPOTHESIS_CHARS]
    return knobs, hypothesis or "not stated"


def proposal(
    files: dict[str, bytes], current: dict[str, Value], knobs: dict[str, Value], *,
    hypothesis: str, model: str, constrained: bool,
) -> Proposal:  # fmt: skip
    changed = [(k, current.get(k), v) for k, v in knobs.items() if current.get(k) != v]
    rows = "\n".join(f"| `{k}` | `{a}` | `{b}` |" for k, a, b in changed)
    how = "a JSON schema the server enforced" if constrained else "JSON read from its reply"
    body = (
        f"Lever: **knobs** — proposed by {model} through a knob form ({how}): the model "
        f"could not edit code.\n\n## Hypothesis\n\n{hypothesis}\n\n"
        f"## What changed\n\n| knob | before | after |\n|---|---|---|\n{rows}\n"
    )
    subject = "knobs (form) " + ", ".join(f"{k} {a}→{b}" for k, a, b in changed[:3])
    subject = " ".join(subject.split())[:120]
    source = knobmod.write(files[ENTRY].decode(), knobs)
    return Proposal(
        lever="knobs",
        files={**files, ENTRY: source.encode()},
        improvement=Improvement(subject, body),
        knobs=knobs,
        model=model,
        lever_reason="a knob form: the model fills values, the code stays",
    )


def _key(knobs: dict[str, Value], space: Space) -> tuple:
    return tuple((k, knobmod.tidy(knobs.get(k))) for k in sorted(space))


def tried(knobs: dict[str, Value], space: Space, history: list[Trial]) -> bool:
    return _key(knobs, space) in {_key(t.knobs, space) for t in history}
