"""What a run tried with a knob-like lever: one set of values and the score it got. The
history rebuilds them from the branch and the rejected refs (history.py); the search
strategies read them (levers/)."""

from __future__ import annotations

from dataclasses import dataclass

Value = bool | int | float | str | None  # a knob's value, as a plain literal holds it


@dataclass(frozen=True)
class Trial:
    knobs: dict[str, Value]
    score: float | None  # None: the candidate failed (gate, crash, timeout)
    generation: int
