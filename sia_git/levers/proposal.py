"""A proposal: the change one candidate makes to the incumbent, whoever wrote it (a proposer, a
lever's offline search, a plugin), and the one check every proposal passes before it is tried."""

from __future__ import annotations

from dataclasses import dataclass, field

from sia_git.levers.knob_source import Value
from sia_git.store.records import Status

ENTRY = "target_agent.py"  # runs.ENTRY: the agent's entry point (kept here, lower down)


class InvalidProposal(ValueError):
    """A proposal sia-git cannot try; the message names what is wrong with it."""


@dataclass(frozen=True)
class Improvement:
    """What changed and why: `title` is one line (the commit's subject), `body` Markdown (the
    commit's body and its note in sia-agent/notes/ under the title)."""

    title: str
    body: str

    def markdown(self) -> str:
        return f"# {self.title}\n\n{self.body.strip()}\n"


@dataclass(kw_only=True)
class Proposal:
    lever: str  # a name in the LEVERS registry
    files: dict[str, bytes]  # the whole agent folder with the change applied (path -> content)
    improvement: Improvement
    knobs: dict[str, Value] | None = None  # the knob values it runs with, when it declares any
    model: str | None = None  # the model that wrote it
    lever_reason: str = ""
    cost_usd: float = 0.0  # what writing it cost
    transcript: bytes | None = None  # the model conversation, stored with the attempt
    failed: str | None = None  # why no usable proposal came out (the candidate then fails)
    failed_status: Status = Status.MODEL_FAILED  # or BUDGET_STOPPED
    train: dict[str, Value] | None = None  # LoRA settings: a weights candidate trains first
    extra: dict[str, str] = field(default_factory=dict)  # a lever's own trailers' inputs
    # A crossover's other parent generations (of this run), beside the incumbent it builds on
    also_from: tuple[int, ...] = ()
    # Where a transferred change comes from ("<run> gen <N> <commit>"): its Sia-Transferred-From
    origin: str | None = None

    @property
    def source(self) -> str:
        """The new target_agent.py."""
        return self.files.get(ENTRY, b"").decode("utf-8", errors="replace")

    @property
    def subject(self) -> str:
        return self.improvement.title


def validate(p: object, levers: list[str]) -> Proposal:
    """`p` if it is a proposal sia-git can try, else InvalidProposal with one line saying
    why (a proposer's or plugin's mistake becomes a failed candidate, never a crash)."""
    if not isinstance(p, Proposal):
        raise InvalidProposal(f"a proposer returned {type(p).__name__}, not a Proposal")
    if p.lever not in levers:
        raise InvalidProposal(f"lever {p.lever!r} is not one of {', '.join(levers)}")
    if not isinstance(p.improvement, Improvement):
        raise InvalidProposal("its improvement is not an Improvement(title, body)")
    title = p.improvement.title
    if not isinstance(title, str) or not title.strip() or "\n" in title.strip():
        raise InvalidProposal(f"its improvement's title must be one non-empty line: {title!r}")
    if not isinstance(p.improvement.body, str):
        raise InvalidProposal("its improvement's body is not text")
    if not isinstance(p.files, dict):
        raise InvalidProposal("its files must map paths to bytes")
    bad = [k for k, v in p.files.items() if not isinstance(k, str) or not isinstance(v, bytes)]
    if bad:
        raise InvalidProposal(f"its files must map paths to bytes (not: {bad[:3]})")
    if p.failed is None and ENTRY not in p.files:
        raise InvalidProposal(f"its files have no {ENTRY}")
    for name, value in (("knobs", p.knobs), ("train", p.train)):
        if value is not None and not isinstance(value, dict):
            raise InvalidProposal(f"its {name} must be a table of values, not {value!r}")
    return p
