"""`sia-git transfer`'s one candidate: another run's generation, its change carried onto this
run's tip (evolve/changes.py) and proposed as this run's next generation, so that it is gated,
scored against the tip under the run's own evidence rule and confirmed like any other."""

from __future__ import annotations

from dataclasses import dataclass

from sia_git.evolve.proposers.base import Maker, Proposer, ProposerPort, Round
from sia_git.levers import knob_source as knobmod
from sia_git.levers.proposal import ENTRY, Improvement, Proposal


@dataclass(frozen=True, kw_only=True)
class Carried:
    """A generation's change, applied to another run's tip."""

    run_id: str  # the run it comes from
    gen: int
    sha: str
    lever: str  # "knobs" (carried as knob values) or "harness" (a merge of its files)
    subject: str
    note: str  # its improvement note there
    onto: str  # the tip of the run it was carried onto
    files: dict[str, bytes]  # that tip's agent folder with the change applied

    @property
    def origin(self) -> str:
        return f"{self.run_id} gen {self.gen} {self.sha}"


class TransferProposer(Proposer):
    name = "transfer"

    def __init__(self, port: ProposerPort, carried: Carried) -> None:
        super().__init__(port)
        self.carried = carried
        self._done = False

    def describe(self) -> str:
        return f"transfer of generation {self.carried.gen} of run {self.carried.run_id}"

    def propose(self, rnd: Round) -> list[Maker]:
        if self._done:
            return []
        self._done = True
        c = self.carried
        if rnd.hist.tip.sha != c.onto:  # a confirmation reverted the tip first
            self.port.echo(
                f"run {self.port.run_id}'s tip moved ({c.onto[:10]} -> {rnd.hist.tip.sha[:10]}) "
                "before the change could be tried; run the transfer again"
            )
            return []
        how = "its knob values" if c.lever == "knobs" else "a three-way merge of its agent files"
        body = (
            f"Carried over by `sia-git transfer` from generation {c.gen} of run {c.run_id} "
            f"(commit {c.sha}), as {how}.\n\nIts note there:\n\n{c.note.strip()}\n"
        )
        try:
            parsed = knobmod.read(c.files[ENTRY].decode("utf-8", errors="replace"))
        except knobmod.KnobError:
            parsed = None
        proposal = Proposal(
            lever=c.lever,
            files=dict(c.files),
            improvement=Improvement(f"from run {c.run_id} gen {c.gen}: {c.subject}", body),
            knobs=parsed[0] if parsed else None,
            lever_reason=f"carried over from run {c.run_id} by sia-git transfer",
            origin=c.origin,
        )
        return [lambda: proposal]
