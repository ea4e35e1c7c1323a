"""The records sia-git writes into git, as typed models: a generation's attempt record, a
confirmation, an early stop. Every writer and reader goes through this module.

Each record carries `schema_version`. Fields a reader does not know are kept (a newer sia-git's
record still reads); fields an older record lacks take their defaults (runs from before a field
existed still read).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo
from sia_git.store import refs

SCHEMA = 1
ATTEMPT_FILE = "attempt.json"
CONFIRM_FILE = "confirm.json"
STOP_FILE = "stop.json"


class Status(StrEnum):
    """How a candidate's try ended."""

    OK = "ok"
    MODEL_FAILED = "model-failed"
    BUDGET_STOPPED = "budget-stopped"
    GATE_FAILED = "gate-failed"
    TRAIN_FAILED = "train-failed"
    CRASHED = "crashed"
    TIMED_OUT = "timed-out"
    EVAL_FAILED = "eval-failed"


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow")

    schema_version: int = SCHEMA

    def dumps(self) -> bytes:
        return readable_json(self.model_dump(mode="json")).encode()


def readable_json(data: dict[str, Any]) -> str:
    """JSON with each top-level key, and each element of a top-level list, on its own line.
    Each value goes through json's C encoder: `indent` selects the pure-Python one, which took
    a tenth of the driver's time per candidate writing a 128-candidate generation's record
    (per-item results included) and its notes (docs/SCALING.md)."""
    parts = []
    for key, value in data.items():
        if isinstance(value, list) and value:
            inner = ",\n".join("  " + json.dumps(v) for v in value)
            parts.append(f" {json.dumps(key)}: [\n{inner}\n ]")
        else:
            parts.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}" if parts else "{}"


class GateRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

    passed: bool
    report: str = ""


class CandidateRecord(BaseModel):
    """One candidate of a generation: what it was, how it ran, how it scored."""

    model_config = ConfigDict(extra="allow")

    candidate: int
    status: str = Status.OK  # a Status; kept as text so an unknown one still reads
    reason: str = ""
    lever: str = "harness"
    subject: str = ""
    knobs: dict[str, Any] | None = None
    gates: dict[str, GateRecord] = Field(default_factory=dict)
    run: dict[str, Any] | None = None  # the sandbox run: backend, exit code, duration, where
    scores: dict[str, float | None] = Field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = Field(default_factory=dict)
    dropped_outputs: list[str] = Field(default_factory=list)  # the first DROPPED_SHOWN
    dropped_outputs_count: int = 0
    traces_dropped: int = 0
    cost_usd: float = 0.0
    model: str | None = None
    lever_reason: str = ""
    gateway_calls: int = 0
    adapter: str | None = None
    train: dict[str, Any] | None = None
    # Per-item statuses of the selection split only; a sealed split never has any.
    items: dict[str, list[dict[str, str]]] = Field(default_factory=dict)
    commit: str | None = None
    verdict: str = ""
    evidence: str = ""  # its paired gain over the incumbent (Sia-Evidence), when weighed
    key: str = ""  # what decides its result (evolve/reuse.py): an identical candidate reuses it
    reused: str = ""  # the run, generation and candidate whose result it reused
    stage: str = ""  # how far a staged evaluation went: "sample 20 of 80" or "full"
    scored_on: str = ""  # where the evaluator ran: "here", or a trusted Ray node

    def failed(self) -> dict[str, list[dict[str, str]]]:
        return {
            s: [i for i in items if i.get("status") != "correct"] for s, items in self.items.items()
        }


def run_seconds(cand: CandidateRecord | None) -> float | None:
    """How long a recorded candidate's agent ran (its `run.duration_s`), when it is known."""
    seconds = (cand.run or {}).get("duration_s") if cand is not None else None
    return float(seconds) if isinstance(seconds, int | float) else None


class CandidateNote(CandidateRecord):
    """A candidate's git note (`git notes --ref sia show <commit>`): its record without the
    per-item statuses, with the failed ones, and where it belongs."""

    run: str = ""
    generation: int | None = None
    failed_items: dict[str, list[dict[str, str]]] = Field(default_factory=dict)


class AttemptRecord(_Record):
    """Every candidate of one generation (on `refs/sia/<run>/attempts/gNNNN`)."""

    run: str = ""
    generation: int = 0
    incumbent_score: float | None = None
    select_split: str = "dev"
    accepted: int | None = None
    candidates: list[CandidateRecord] = Field(default_factory=list)

    def candidate(self, index: int) -> CandidateRecord | None:
        return next((c for c in self.candidates if c.candidate == index), None)

    @property
    def cost_usd(self) -> float:
        return sum(c.cost_usd for c in self.candidates)


class ConfirmRecord(_Record):
    """Re-runs of an accepted generation (on `refs/sia/<run>/confirmed/gNNNN`)."""

    generation: int
    commit: str
    scores: list[float | None]
    mean: float
    incumbent_score: float | None = None
    held: bool | None = None
    cost_usd: float = 0.0
    evidence: str = ""  # the accepted run's and the re-runs' items pooled (Sia-Evidence form)


class StopRecord(_Record):
    """Why a run stopped early (on `refs/sia/<run>/stops/gNNNN`)."""

    run: str
    generation: int
    kind: str
    reason: str
    spent_usd: float = 0.0
    budget_usd: float | None = None


R = TypeVar("R", bound=_Record)


def parse(model: type[R], raw: str | None, where: str) -> R | None:
    if raw is None:
        return None
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise SiaError(f"{where}: a record sia-git cannot read ({key}: {err['msg']})") from None


def read_note(repo: Repo, sha: str) -> CandidateNote | None:
    raw = repo.note(sha)
    if raw is None:
        return None
    try:
        return CandidateNote.model_validate_json(raw)
    except ValidationError:
        return None  # a note a person wrote on the commit: not sia-git's


def read_attempt(repo: Repo, run_id: str, gen: int) -> AttemptRecord | None:
    ref = refs.attempts(run_id, gen)
    return parse(AttemptRecord, repo.read_file(ref, ATTEMPT_FILE), f"{ref}:{ATTEMPT_FILE}")


def read_confirm(repo: Repo, run_id: str, gen: int) -> ConfirmRecord | None:
    ref = refs.confirmed(run_id, gen)
    return parse(ConfirmRecord, repo.read_file(ref, CONFIRM_FILE), f"{ref}:{CONFIRM_FILE}")


def record_cost(repo: Repo, ref: str) -> float:
    """The spend an attempt or confirmation record holds (for records written before their
    commits carried it as a trailer)."""
    run_ref = refs.RunRef.parse(ref)
    if run_ref is None or run_ref.gen is None:
        return 0.0
    if run_ref.kind == "attempts":
        attempt = read_attempt(repo, run_ref.run_id, run_ref.gen)
        return attempt.cost_usd if attempt else 0.0
    confirm = read_confirm(repo, run_ref.run_id, run_ref.gen)
    return confirm.cost_usd if confirm else 0.0
