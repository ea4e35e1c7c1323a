"""`sia-git log`: one row per generation and candidate of a run."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import click

from sia_git import history as H
from sia_git import trailers as T
from sia_git.commands.common import fmt_score, open_run
from sia_git.runs import selection_warning


def rows(hist: H.RunHistory, knobs: bool = True) -> list[dict[str, Any]]:
    """Rows in the order things happened: each generation, its rejected candidates, reverts.
    `knobs=False` leaves each row's knob settings unparsed (the table does not print them)."""
    return [_row(e, hist.delta(e), knobs) for e in hist.in_order()]


def _row(e: H.Entry, delta: float | None, knobs: bool = True) -> dict[str, Any]:
    status = e.status
    if e.kind == "revert":
        status = f"revert of {e.reverts[:10] if e.reverts else '?'}"
    return {
        "gen": e.gen,
        "commit": e.sha,
        "lever": e.trailers.get(T.LEVER),
        "model": None if e.trailers.get(T.MODEL) in (None, "none") else e.trailers[T.MODEL],
        "score": e.score,
        "test_score": T.read_float(e.trailers.get(T.SCORE_TEST)),
        "knobs": T.read_knobs(e.trailers.get(T.KNOBS)) if knobs else None,
        "delta": delta,
        "status": status,
        "cost_usd": e.cost,
        "subject": e.subject,
        "reason": e.trailers.get(T.REJECTED) or e.trailers.get(T.REASON),
        "ref": e.ref,
    }


def run(repo_path: Path, run_id: str | None, as_json: bool) -> None:
    # A row per commit of a long run, all dropped at the end: the cycle collector would only
    # scan them over and over while they are made (bench/: `log`).
    paused = gc.isenabled()
    gc.disable()
    try:
        _run(repo_path, run_id, as_json)
    finally:
        if paused:
            gc.enable()


def _run(repo_path: Path, run_id: str | None, as_json: bool) -> None:
    repo, hist = open_run(repo_path, run_id)
    table = rows(hist, knobs=as_json)
    total = hist.total_cost_usd
    warning = selection_warning(repo, hist)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "run": hist.run_id,
                    "branch": H.branch(hist.run_id),
                    "total_cost_usd": total,
                    "stops": hist.stops,
                    "warning": warning,
                    "rows": table,
                },
                indent=1,
            )
        )
        return
    if warning:
        click.echo(f"warning: {warning}", err=True)
    # One write: a long run has tens of thousands of rows.
    models = any(r["model"] for r in table)  # a column only for runs with a model
    lines = [
        f"run {hist.run_id}  (branch {H.branch(hist.run_id)})",
        f"{'gen':>4}  {'commit':10}  {'lever':8} {'score':>7} {'delta':>8} {'test':>7}  "
        f"{'cost':>7}  " + (f"{'model':24}  " if models else "") + "status",
    ]
    for r in table:
        delta = "-" if r["delta"] is None else f"{r['delta']:+.4f}"
        gen = "-" if r["gen"] is None else str(r["gen"])
        status = r["status"] + (f": {r['reason']}" if r["status"] == "rejected" else "")
        lines.append(
            f"{gen:>4}  {r['commit'][:10]:10}  {r['lever'] or '-':8} "
            f"{fmt_score(r['score']):>7} {delta:>8} {fmt_score(r['test_score']):>7}  "
            f"{r['cost_usd']:>7.4f}  "
            + (f"{(r['model'] or '-')[:24]:24}  " if models else "")
            + f"{status[:90]}"
        )
    lines += [f"stopped after generation {gen}: {why}" for gen, why in sorted(hist.stops.items())]
    lines.append(f"total cost ${total:.4f} (every model call, rejected candidates included)")
    click.echo("\n".join(lines))
