"""`sia-git log`: one row per generation and candidate of a run."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import click

from sia_git.commands.common import fmt_score, open_run
from sia_git.store import evidence
from sia_git.store import history as H
from sia_git.store import trailers as T
from sia_git.tasks.layout import selection_warning


def rows(hist: H.RunHistory) -> list[dict[str, Any]]:
    """Rows in the order things happened: each generation, its rejected candidates, reverts."""
    return [_row(e, hist.delta(e)) for e in hist.in_order()]


def _status(e: H.Entry) -> str:
    if e.kind == "revert":
        return f"revert of {e.reverts[:10] if e.reverts else '?'}"
    return e.status


def _model(e: H.Entry) -> str | None:
    model = e.trailers.get(T.MODEL)
    return None if model in (None, "none") else model


def _row(e: H.Entry, delta: float | None) -> dict[str, Any]:
    status = _status(e)
    return {
        "gen": e.gen,
        "commit": e.sha,
        "lever": e.trailers.get(T.LEVER),
        "model": _model(e),
        "score": e.score,
        "test_score": T.read_float(e.trailers.get(T.SCORE_TEST)),
        "knobs": T.read_knobs(e.trailers.get(T.KNOBS)),
        "delta": delta,
        "status": status,
        "cost_usd": e.cost,
        "subject": e.subject,
        "reason": e.trailers.get(T.REJECTED) or e.trailers.get(T.REASON),
        "ref": e.ref,
        "evidence": e.trailers.get(T.EVIDENCE),
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
                    "models": {
                        m: {"candidates": n, "reached_evaluator": k}
                        for m, (k, n) in hist.model_reach().items()
                    },
                    "warning": warning,
                    "rows": rows(hist),
                },
                indent=1,
            )
        )
        return
    if warning:
        click.echo(f"warning: {warning}", err=True)
    click.echo("\n".join(_table(hist, total)))


def _table(hist: H.RunHistory, total: float) -> list[str]:
    """The rows as text, straight from the entries (a long run has tens of thousands)."""
    entries = hist.in_order()
    models = any(_model(e) for e in entries)  # a column only for runs with a model
    lines = [
        f"run {hist.run_id}  (branch {H.branch(hist.run_id)})",
        f"{'gen':>4}  {'commit':10}  {'lever':8} {'score':>7} {'delta':>8} {'test':>7}  "
        f"{'cost':>7}  " + (f"{'model':24}  " if models else "") + "status",
    ]
    for e in entries:
        d = hist.delta(e)
        delta = "-" if d is None else f"{d:+.4f}"
        gen = "-" if e.gen is None else str(e.gen)
        status = _status(e)
        if status == "rejected":
            status += f": {e.trailers.get(T.REJECTED) or e.trailers.get(T.REASON)}"
        elif status == "accepted" and (proof := evidence.parse(e.trailers.get(T.EVIDENCE))):
            status += f" {proof.says()}"
        test = T.read_float(e.trailers.get(T.SCORE_TEST))
        lines.append(
            f"{gen:>4}  {e.sha[:10]:10}  {e.trailers.get(T.LEVER) or '-':8} "
            f"{fmt_score(e.score):>7} {delta:>8} {fmt_score(test):>7}  "
            f"{e.cost:>7.4f}  "
            + (f"{(_model(e) or '-')[:24]:24}  " if models else "")
            + f"{status[:90]}"
        )
    lines += [f"stopped after generation {gen}: {why}" for gen, why in sorted(hist.stops.items())]
    lines += [f"model {m}: {k} of {n} candidates reached the evaluator ({k / n:.0%})"
              for m, (k, n) in sorted(hist.model_reach().items())]  # fmt: skip
    lines.append(f"total cost ${total:.4f} (every model call, rejected candidates included)")
    return lines
