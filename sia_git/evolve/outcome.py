"""What trying one candidate came to (kept light: `sia-git eval` answers from its cache with it,
without the sandbox or the gates)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sia_git.store.records import Status

if TYPE_CHECKING:
    from sia_git.gates import GateResult
    from sia_git.levers.proposal import Proposal
    from sia_git.sandbox import RunResult
    from sia_git.store.evidence import Evidence
    from sia_git.tasks.evaluation import Evaluation, SplitScore


@dataclass
class Outcome:
    index: int  # 1..N for candidates, 0 for a baseline or the reference agent
    proposal: Proposal | None
    files: dict[str, bytes]  # the agent folder it ran: path -> content
    status: Status
    reason: str = ""
    gates: list[GateResult] = field(default_factory=list)
    run: RunResult | None = None
    evaluation: Evaluation | None = None
    traces: dict[str, bytes] = field(default_factory=dict)
    cost_usd: float = 0.0  # the proposal's model calls plus the agent's gateway calls
    gateway_calls: int = 0
    adapter: str | None = None  # the LoRA adapter it ran with (sha256:...), if any
    training: dict[str, Any] | None = None  # a weights candidate's sia_adapter.json
    traces_dropped: int = 0  # trace files past the caps: counted, not listed
    note: str = ""  # what a run that ended well still needs said (its model calls all failed)
    evidence: Evidence | None = None  # its paired gain over the incumbent, once weighed
    key: str = ""  # what decides its result (evolve/reuse.py), when it may be reused
    reused: str = ""  # where its result was scored, when it was reused and not run
    stage: str = ""  # how far its evaluation went when staged: "sample 20 of 80", "full"
    pruned: str = ""  # why it stopped at the sample (evolve/stages.py): never accepted
    # Scored on the dev-only inputs (evolve/stages.py): committed, it runs once more on the
    # whole inputs for its sealed scores.
    sealed_pending: bool = False
    # Sealed splits' scores, withheld from everything that is stored or shown: only a
    # committed generation's is released, through sealed.py's rule (see evolve/release.py).
    withheld: dict[str, SplitScore] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == Status.OK

    def score(self, split: str) -> float | None:
        return self.evaluation.score(split) if self.evaluation else None
