"""`sia-git diff A B` (two generations side by side: agent diff, knobs, scores) and
`sia-git compare` (a params-and-metrics table over a run's generations, or over runs), as
`dvc exp diff` and `dvc exp show` do for experiments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sia_git.commands.common import fmt_score, match_run, open_run
from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo, open_repo
from sia_git.store import history as H
from sia_git.store import runrecord
from sia_git.store import trailers as T
from sia_git.store.runs import CODE_DIR


def _entry(repo: Repo, hist: H.RunHistory, which: str) -> H.Entry:
    """A generation number of the run, or any revision of one of its commits."""
    if which.isdigit():
        found = hist.generation(int(which))
        if found is None:
            raise SiaError(f"run {hist.run_id} has no generation {which} on its branch")
        return found
    sha = repo.rev_parse(which)
    for e in [*hist.branch, *hist.rejected]:
        if e.sha == sha:
            return e
    raise SiaError(f"{which}: not a commit of run {hist.run_id} (give a generation number)")


def _facts(e: H.Entry) -> dict[str, Any]:
    return {
        "generation": e.gen,
        "commit": e.sha,
        "status": e.status,
        "subject": e.subject,
        "score": e.score,
        "test_score": T.read_float(e.trailers.get(T.SCORE_TEST)),
        "lever": e.trailers.get(T.LEVER),
        "model": None if e.trailers.get(T.MODEL) in (None, "none") else e.trailers[T.MODEL],
        "knobs": T.read_knobs(e.trailers.get(T.KNOBS)) or {},
        "cost_usd": e.cost,
    }


def diff(repo_path: Path, run_id: str | None, a: str, *, b: str, as_json: bool) -> None:
    if run_id is None and not a.isdigit():  # a commit names its run (not only the newest's)
        repo = open_repo(repo_path, write=False)
        sha = repo.rev_parse(a)
        found = runrecord.run_of(repo, sha) if sha else None
        run_id = found if found in H.list_runs(repo) else None
    repo, hist = open_run(repo_path, run_id)
    left, right = _facts(_entry(repo, hist, a)), _facts(_entry(repo, hist, b))
    patch = repo.diff(left["commit"], right["commit"], [CODE_DIR])
    names = sorted(set(left["knobs"]) | set(right["knobs"]))
    knobs = {k: [left["knobs"].get(k), right["knobs"].get(k)] for k in names}
    if as_json:
        click.echo(json.dumps({"a": left, "b": right, "knobs": knobs, "diff": patch}, indent=1))
        return
    lines = [f"{'':12} {'A':>24} {'B':>24}"]
    for key in ("generation", "commit", "status", "score", "test_score", "lever", "cost_usd"):
        va, vb = left[key], right[key]
        show = fmt_score if key in ("score", "test_score") else _plain
        mark = "" if va == vb else "  *"
        lines.append(f"{key:12} {show(va)[:24]:>24} {show(vb)[:24]:>24}{mark}")
    for k, (va, vb) in knobs.items():
        lines.append(f"knob {k:7} {_plain(va)[:24]:>24} {_plain(vb)[:24]:>24}"
                     + ("" if va == vb else "  *"))  # fmt: skip
    lines += ["", patch.rstrip() or "(the agents are the same)"]
    click.echo("\n".join(lines))


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)[:10] if isinstance(value, str) and len(value) == 40 else str(value)


def compare(repo_path: Path, run_ids: tuple[str, ...], as_json: bool) -> None:
    """One run: a row per generation on its branch. Several (or --all): a row per run, its
    best generation."""
    repo = open_repo(repo_path, write=False)
    runs = H.list_runs(repo)
    chosen = [match_run(r, runs) for r in run_ids] if run_ids else runs[:1]
    if not chosen:
        raise SiaError("no sia-git runs in this repository; start one with `sia-git evolve`")
    rows: list[dict[str, Any]] = []
    for run_id in chosen:
        _, hist = open_run(repo_path, run_id)
        gens = [e for e in hist.branch if e.kind == "generation"]
        if len(chosen) == 1:
            rows += [{"run": run_id, **_facts(e)} for e in gens]
        else:
            inc, _score = hist.incumbent()
            rows.append({"run": run_id, **_facts(inc), "generations": hist.last_generation})
    if as_json:
        click.echo(json.dumps({"rows": rows}, indent=1))
        return
    params = sorted({k for r in rows for k in r["knobs"]})
    head = ["run", "gen", "status", "score", "test", "lever", *params]
    table = [
        [r["run"], _plain(r["generation"]), r["status"], fmt_score(r["score"]),
         fmt_score(r["test_score"]), r["lever"] or "-",
         *(_plain(r["knobs"].get(p)) for p in params)]
        for r in rows
    ]  # fmt: skip
    _print_table(head, table)


def _print_table(head: list[str], table: list[list[Any]]) -> None:
    """A rich table (params and metrics side by side, as `dvc exp show`), as wide as it needs:
    a pipe or a file gets it whole, in plain characters."""
    import shutil

    from rich.console import Console
    from rich.table import Table

    out = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for name in head:
        numeric = name in ("gen", "score", "test")
        out.add_column(name, justify="right" if numeric else "left", no_wrap=True)
    for line in table:
        out.add_row(*(str(c) for c in line))
    width = sum(max(len(str(c)) for c in col) + 2 for col in zip(head, *table, strict=True))
    console = Console(width=max(width, shutil.get_terminal_size().columns), highlight=False)
    with console.capture() as shown:
        console.print(out)
    click.echo("\n".join(line.rstrip() for line in shown.get().splitlines()))
