"""Every ref and note name sia-git writes, built and parsed in one place (after DVC's
ExpRefInfo). A run R lives on:

- `refs/heads/sia/R`: the run branch (accepted generations, reverts);
- `refs/heads/sia/R-gNNNN`: a generation's review branch (`--review pr`);
- `refs/sia/R/base`: the user's commit the run started from;
- `refs/sia/R/attempts/gNNNN`: the generation's attempt record (every candidate);
- `refs/sia/R/rejected/gNNNN-cK`: a rejected candidate's commit;
- `refs/sia/R/confirmed/gNNNN`: a confirmation record; `refs/sia/R/stops/gNNNN`: an early stop;
- `refs/sia/reviews/N`: a local review; notes in `refs/notes/sia` (each candidate's result),
  `refs/notes/sia-hub` (adapter uploads) and `refs/notes/sia-eval` (`sia-git eval` results).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sia_git.gitrepo import NOTES_REF

NOTES = NOTES_REF  # one note per candidate commit
HUB_NOTES = "refs/notes/sia-hub"
EVAL_NOTES = "refs/notes/sia-eval"
ABLATE_NOTES = "refs/notes/sia-ablate"  # `sia-git ablate`'s table, on the tip it measured
REVIEWS = "refs/sia/reviews/"
KINDS = ("base", "attempts", "rejected", "confirmed", "stops")
_RUN_REF = re.compile(
    r"^refs/sia/(?P<run>[^/]+)/(?P<kind>[a-z]+)"
    r"(?:/g(?P<gen>\d{4,})(?:-c(?P<cand>\d+))?)?$"
)


def gen_name(gen: int) -> str:
    """`g0004`: zero-padded so that refs sort by generation."""
    return f"g{gen:04d}"


def branch(run_id: str) -> str:
    return f"sia/{run_id}"


def branch_ref(run_id: str) -> str:
    return f"refs/heads/{branch(run_id)}"


def review_branch(run_id: str, gen: int) -> str:
    return f"{branch(run_id)}-{gen_name(gen)}"


def run_ref(run_id: str, kind: str, name: str = "") -> str:
    """`refs/sia/R/<kind>[/<name>]`; without a name, the prefix of that kind's refs."""
    return f"refs/sia/{run_id}/{kind}" + (f"/{name}" if name else "")


def base(run_id: str) -> str:
    return run_ref(run_id, "base")


def attempts(run_id: str, gen: int) -> str:
    return run_ref(run_id, "attempts", gen_name(gen))


def transcript(run_id: str, gen: int, index: int, *, name: str) -> str:
    """Where a candidate's model transcript is stored: `git show` takes it as it is."""
    return f"{attempts(run_id, gen)}:c{index}/{name}"


def rejected(run_id: str, gen: int, candidate: int) -> str:
    return run_ref(run_id, "rejected", f"{gen_name(gen)}-c{candidate}")


def confirmed(run_id: str, gen: int) -> str:
    return run_ref(run_id, "confirmed", gen_name(gen))


def stops(run_id: str, gen: int) -> str:
    return run_ref(run_id, "stops", gen_name(gen))


@dataclass(frozen=True)
class RunRef:
    """A parsed `refs/sia/R/...` name."""

    run_id: str
    kind: str
    gen: int | None = None
    candidate: int | None = None

    @classmethod
    def parse(cls, name: str) -> RunRef | None:
        m = _RUN_REF.match(name.strip())
        if m is None or m["kind"] not in KINDS:
            return None
        return cls(
            m["run"],
            m["kind"],
            int(m["gen"]) if m["gen"] else None,
            int(m["cand"]) if m["cand"] else None,
        )

    def name(self) -> str:
        if self.gen is None:
            return run_ref(self.run_id, self.kind)
        if self.candidate is None:
            return run_ref(self.run_id, self.kind, gen_name(self.gen))
        return rejected(self.run_id, self.gen, self.candidate)
