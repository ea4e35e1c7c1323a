"""`sia-git show N`: everything about one generation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sia_git.commands.common import open_run
from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo
from sia_git.store import history as H
from sia_git.store import refs
from sia_git.store import trailers as T
from sia_git.store.records import read_note
from sia_git.store.runs import CODE_DIR, read_notes
from sia_git.tasks.layout import selection_warning


def details(repo: Repo, hist: H.RunHistory, gen: int) -> list[dict[str, Any]]:
    entries = [e for e in hist.branch if e.kind == "generation" and e.gen == gen]
    entries += [e for e in hist.rejected if e.gen == gen]
    if not entries:
        last = hist.last_generation
        raise SiaError(f"run {hist.run_id} has no generation {gen} (it has 1 to {last})")
    out = []
    for e in entries:
        parent = repo.rev_parse(f"{e.sha}^")
        note = read_note(repo, e.sha)
        out.append(
            {
                "generation": gen,
                "commit": e.sha,
                "status": e.status,
                "subject": e.subject,
                "ref": e.ref,
                "trailers": e.trailers,
                "improvement": read_notes(repo, [e]).get(e.sha, ""),
                "diff": repo.diff(parent, e.sha, [CODE_DIR]) if parent else "",
                "result": note.model_dump(mode="json") if note else None,
                "transcripts": _transcripts(repo, hist.run_id, gen, e=e),
            }
        )
    return out


def _transcripts(repo: Repo, run_id: str, gen: int, *, e: H.Entry) -> list[str]:
    """`git show` arguments for the model transcripts behind this commit."""
    ref = refs.attempts(run_id, gen)
    cand = (e.trailers.get(T.CANDIDATE) or "0").split("/")[0]
    return [
        f"{ref}:{path}"
        for path in repo.list_files(ref, f"c{cand}/")
        if path.endswith("transcript.json")
    ]


def run(repo_path: Path, run_id: str | None, gen: int, *, as_json: bool) -> None:
    repo, hist = open_run(repo_path, run_id)
    items = details(repo, hist, gen)
    warning = selection_warning(repo, hist)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps(items, indent=1))
        return
    for d in items:
        click.echo(f"commit {d['commit']}  [{d['status']}]" + (f"  {d['ref']}" if d["ref"] else ""))
        click.echo(d["subject"])
        click.echo("")
        for k, v in d["trailers"].items():
            click.echo(f"  {k}: {v}")
        click.echo("\n" + d["improvement"].strip() + "\n")
        for t in d["transcripts"]:
            click.echo(f"transcript: git show {t}")
        res = d["result"] or {}
        if res:
            click.echo(f"result: {res.get('status')} {res.get('reason') or ''}".rstrip())
            for split, metrics in res.get("metrics", {}).items():
                shown = ", ".join(f"{k}={v}" for k, v in metrics.items())
                click.echo(f"  {split}: {shown}")
            for name, g in res.get("gates", {}).items():
                click.echo(
                    f"  gate {name}: {'pass' if g['passed'] else 'FAIL'}"
                    + (f"\n    {g['report']}" if g["report"] else "")
                )
            if res.get("dropped_outputs"):
                click.echo(f"  not shown to the evaluator: {', '.join(res['dropped_outputs'])}")
        click.echo("")
        click.echo(d["diff"] or "(no change to the agent's code)")
