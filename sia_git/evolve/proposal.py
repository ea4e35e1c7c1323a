"""A proposal: the change one candidate makes to the incumbent, whoever wrote it."""

from __future__ import annotations

from dataclasses import dataclass

from sia_git.knobs import Value
from sia_git.records import Status


@dataclass
class Proposal:
    lever: str
    source: str  # the new target_agent.py
    subject: str  # one line for the commit subject
    improvement: str  # improvement.md
    knobs: dict[str, Value] | None
    files: dict[str, bytes] | None = None  # the whole agent folder, when more than one file
    model: str | None = None  # the model that wrote it
    lever_reason: str = ""
    cost_usd: float = 0.0  # what writing it cost
    transcript: bytes | None = None  # the model conversation, stored with the attempt
    failed: str | None = None  # why no usable proposal came out (the candidate then fails)
    failed_status: Status = Status.MODEL_FAILED  # or BUDGET_STOPPED
    train: dict[str, Value] | None = None  # LoRA settings: a weights candidate trains first
