"""`sia-git export mlflow --tracking-uri URI [--run R]`: each run (or the one named) as an MLflow
run: its run.toml and generation 1's knobs as parameters; per generation (the step) its dev
score, what it cost, the agent's run time and code size as metrics; its commits, tip knobs and
task as tags; its improvement notes and its report as artifacts. Only what a clone of the run
already holds is exported: no test item's result exists in git to export."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import click

from sia_git.commands.common import open_run
from sia_git.gitrepo import Repo
from sia_git.report import data as report_data
from sia_git.report import html as report_html
from sia_git.report import tracker
from sia_git.store import frontier as F
from sia_git.store import history as H
from sia_git.store import refs
from sia_git.store import trailers as T
from sia_git.store.runs import read_notes, read_run_toml


def mlflow(
    repo_path: Path, uri: str, *, run_id: str | None, experiment: str | None, as_json: bool
) -> None:
    if run_id is not None:
        repo, hist = open_run(repo_path, run_id)
        hists = [hist]
    else:
        repo, _ = open_run(repo_path, None)  # the one clear line when there is no run
        hists = [H.load(repo, r) for r in H.list_runs(repo)]
    target = tracker.store_uri(uri)
    runs = [tracked(repo, h, experiment) for h in hists]
    written = tracker.write(target, runs)
    if as_json:
        click.echo(json.dumps({"tracking_uri": target, "runs": [
            {"run": r.run_id, "experiment": r.experiment, "mlflow_run_id": w.mlflow_run_id,
             "created": w.created, "metrics_logged": w.metrics_logged,
             "params_kept": w.params_kept} for r, w in zip(runs, written, strict=True)]},
            indent=1))  # fmt: skip
        return
    for r, w in zip(runs, written, strict=True):
        verb = "created" if w.created else "updated"
        click.echo(f"run {r.run_id}: {verb} MLflow run {w.mlflow_run_id} in experiment "
                   f"'{r.experiment}' ({w.metrics_logged} new metric points)")  # fmt: skip
        for key in w.params_kept:
            click.echo(f"  parameter {key} changed since the last export; MLflow keeps a "
                       "parameter's first value, so it was left as it was")  # fmt: skip
    click.echo(f"tracking store: {target}")


def tracked(repo: Repo, hist: H.RunHistory, experiment: str | None) -> tracker.TrackedRun:
    toml = read_run_toml(repo, hist.tip.sha)
    task = toml.task_name or Path(toml.task_source).name or "task"
    gens = [e for e in hist.branch if e.kind == "generation" and e.gen is not None]
    first_knobs = T.read_knobs(gens[0].trailers.get(T.KNOBS)) if gens else None
    tip_knobs = next((T.read_knobs(e.trailers.get(T.KNOBS)) for e in reversed(gens)
                      if e.trailers.get(T.KNOBS)), None)  # fmt: skip
    params = {"task": task, "task_source": toml.task_source,
              "answers_digest": toml.answers_digest or "",
              **_flat("settings", toml.settings), **_flat("split", toml.split or {}),
              **{f"knob.{k}": _text(v) for k, v in (first_knobs or {}).items()}}  # fmt: skip
    tags = {"sia.run": hist.run_id, "sia.base": hist.base or "", "sia.tip": hist.tip.sha,
            "sia.branch": refs.branch(hist.run_id), "sia.task": task,
            "sia.metric": F.metric_of(hist), "mlflow.source.git.commit": hist.tip.sha,
            **{f"sia.{refs.gen_name(e.gen)}": f"{e.sha} {e.status}" for e in gens if e.gen},
            **{f"knob.{k}": _text(v) for k, v in (tip_knobs or {}).items()}}  # fmt: skip
    return tracker.TrackedRun(hist.run_id, hist.base or "", experiment or task, params, tags,
                              _metrics(repo, hist, gens), _files(repo, hist))  # fmt: skip


def _metrics(
    repo: Repo, hist: H.RunHistory, gens: list[H.Entry]
) -> list[tuple[str, int, float, int]]:
    """Per generation (rejected ones too: they cost something), at the time its attempt was
    recorded, so that the same point is the same on every export."""
    when = _attempt_ms(repo, hist.run_id)
    on_branch = {e.gen: e for e in gens if e.status == "accepted"}
    points = {p.gen: p for p in F.marked(repo, hist, maximize=F.maximizes(hist))}
    out: list[tuple[str, int, float, int]] = []
    for gen in sorted(set(when) | set(on_branch) | set(hist.costs)):
        ts, e, p = when.get(gen, 0), on_branch.get(gen), points.get(gen)
        out.append(("accepted", gen, 1.0 if e else 0.0, ts))
        out.append(("cost_usd", gen, hist.costs.get(gen, e.cost if e else 0.0), ts))
        if e is not None and e.score is not None:
            out.append(("dev_score", gen, e.score, ts))
        if p is not None and p.run_s is not None:
            out.append(("agent_run_s", gen, p.run_s, ts))
        if p is not None:
            out.append(("code_bytes", gen, float(p.code_bytes), ts))
    return out


def _files(repo: Repo, hist: H.RunHistory) -> dict[str, bytes]:
    notes = read_notes(repo, hist.branch)
    gen_of = {e.sha: e.gen for e in hist.branch}
    files = {f"notes/{refs.gen_name(gen_of[sha] or 0)}.md": text.encode()
             for sha, text in notes.items()}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="sia-export-") as tmp:
        page = Path(tmp, f"sia-report-{hist.run_id}.html")
        png = report_html.write(report_html.render(report_data.collect(repo, hist)), page)
        files[f"report/{page.name}"] = page.read_bytes()
        files[f"report/{Path(png).name}"] = Path(png).read_bytes()
    return files


def _attempt_ms(repo: Repo, run_id: str) -> dict[int, int]:
    """Each generation's attempt record's commit time, in ms (one git call)."""
    prefix = refs.run_ref(run_id, "attempts")
    out = {}
    for line in repo.for_each_ref(prefix + "/", "%(refname) %(committerdate:unix)"):
        name, _, when = line.strip().partition(" ")
        gen = name.rsplit("/g", 1)[-1]
        if gen.isdigit() and when.isdigit():
            out[int(gen)] = int(when) * 1000
    return out


def _flat(prefix: str, table: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flat(f"{prefix}.{key}", value))
        else:
            out[f"{prefix}.{key}"] = _text(value)
    return out


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)
