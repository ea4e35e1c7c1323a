"""`sia-git transfer GEN --to RUN`: does one run's change help another? The generation's change
is carried onto the other run's tip (evolve/changes.py: knob values that exist there for a
knobs generation, a three-way merge of its agent files otherwise), then that run goes on for
one generation with it as its only candidate: gated, scored against its tip with the run's own
evidence rule, committed with a Sia-Transferred-From trailer when it wins and confirmed like
any generation. Exit 0 when it was committed, 1 when it was not (the reason is printed)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sia_git.commands.common import match_run, open_run
from sia_git.core.errors import SiaError
from sia_git.evolve import changes, loop
from sia_git.evolve.transfer import Carried, TransferProposer
from sia_git.gitrepo import Repo
from sia_git.store import history as H
from sia_git.store import refs
from sia_git.store import trailers as T
from sia_git.store.runs import read_notes


def run(repo_path: Path, gen: int, *, run_id: str | None, to: str, as_json: bool) -> int:
    repo, src = open_run(repo_path, run_id, write=True)
    dest_id = match_run(to, H.list_runs(repo))
    if dest_id == src.run_id:
        raise SiaError(f"--to {to}: generation {gen} is from that run; name another run")
    carried = _carry(repo, src, gen, dest=H.load(repo, dest_id))
    say = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    before = H.load(repo, dest_id)
    loop.resume(repo_path, dest_id, {"max_gen": before.last_generation + 1}, echo=say,
                proposer=lambda port: TransferProposer(port, carried))  # fmt: skip
    result = _result(repo, carried, before=before)
    if as_json:
        click.echo(json.dumps(result, indent=1))
    else:
        click.echo(result["says"])
    return 0 if result["committed"] else 1


def _carry(repo: Repo, src: H.RunHistory, gen: int, *, dest: H.RunHistory) -> Carried:
    entry = src.generation(gen)
    if entry is None:
        raise SiaError(f"run {src.run_id} has no generation {gen} on its branch "
                       f"(see `sia-git log --run {src.run_id}`)")  # fmt: skip
    if gen == 1:
        raise SiaError("generation 1 is its run's starting point, not a change; "
                       "transfer a later generation")  # fmt: skip
    lever = entry.trailers.get(T.LEVER, "harness")
    if lever == "weights":
        raise SiaError(f"generation {gen} of run {src.run_id} changed the weights: its adapter "
                       "belongs to that run's base model; transfer a harness or knobs "
                       "generation")  # fmt: skip
    knobs = lever == "knobs"
    files = changes.carried(repo, dest.tip.sha, entry.sha, knobs_only=knobs)
    if files is None:
        raise SiaError(f"generation {gen}'s change does not apply to run {dest.run_id}'s tip "
                       f"({dest.tip.sha[:10]}): it conflicts with what that run changed, or "
                       "that run has it already")  # fmt: skip
    subject = entry.subject.split(": ", 1)[1] if entry.subject.startswith("gen ") else entry.subject
    return Carried(run_id=src.run_id, gen=gen, sha=entry.sha, lever="knobs" if knobs else "harness",
                   subject=subject, note=read_notes(repo, [entry]).get(entry.sha, ""),
                   onto=dest.tip.sha, files=files)  # fmt: skip


def _result(repo: Repo, c: Carried, *, before: H.RunHistory) -> dict[str, object]:
    dest_id = before.run_id
    after = H.load(repo, dest_id)
    gen = before.last_generation + 1
    _, incumbent = before.incumbent()
    e = after.generation(gen)
    out: dict[str, object] = {"from": c.origin, "to": dest_id, "generation": gen,
                              "incumbent_score": incumbent}  # fmt: skip
    if e is not None and e.trailers.get(T.TRANSFERRED_FROM) == c.origin:
        kept = e.status != "reverted"
        says = (f"transfer: generation {c.gen} of run {c.run_id} is now generation {gen} of run "
                f"{dest_id} ({e.sha[:10]}), {T.score_value(incumbent)} -> "
                f"{T.score_value(e.score)}")  # fmt: skip
        if not kept:
            says += "; its confirmation re-runs did not hold it, and it was reverted"
        return {**out, "committed": kept, "commit": e.sha, "score": e.score, "says": says}
    rejected = repo.rev_parse(refs.rejected(dest_id, gen, 1))
    why = (repo.git("log", "-1", f"--format=%(trailers:key={T.REJECTED},valueonly)", rejected)
           .strip() if rejected else "") or "it was not tried (see the lines above)"  # fmt: skip
    says = f"transfer: not committed to run {dest_id}: {why}"
    return {**out, "committed": False, "commit": rejected, "score": None, "says": says}
