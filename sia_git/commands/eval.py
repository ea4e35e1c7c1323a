"""`sia-git eval [REV]`: run a generation's agent again in the sandbox (with its pinned
adapter), compare with a baseline, store the result as a git note, and fail on a regression.

The commit is untrusted input (CI runs this on every pull request): it decides only its agent.
The task, the settings and the gates come from the evaluating side (trust.py), and everything
the commit said otherwise is named as ignored. A sealed split is never scored afresh here: its
row shows the value the run released for that commit (sealed.py), so no sequence of
hand-made commits can read the sealed labels back through eval."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo, open_repo
from sia_git.store import eval_memo, refs
from sia_git.store import history as H
from sia_git.store import trailers as T

if TYPE_CHECKING:
    from sia_git.evolve.rescore import Rescored
    from sia_git.evolve.trust import Decided

NOTES = refs.EVAL_NOTES
COMMENT_MARKER = "<!-- sia-git eval -->"  # finds the comment to update on the next push


@dataclass
class Options:
    split: str  # a split name or "all"
    baseline: str | None
    fmt: str  # table | json | markdown
    fail_on_regression: bool
    tolerance: float
    task_dir: Path | None = None
    pr_comment: int | None = None  # post the Markdown table on this GitHub pull request
    task: str | None = None  # a built-in task to score with
    sandbox: str | None = None  # only from this command line (`none` included)
    bisect: float | None = None  # `--bisect --threshold X`: a `git bisect run` step (bisect.py)

    def flags(self) -> dict[str, Any]:
        return {"task": self.task, "task_dir": self.task_dir, "sandbox": self.sandbox}


def run(repo_path: Path, rev: str | None, opts: Options) -> int:
    repo = open_repo(repo_path)
    rev = rev or _newest_tip(repo)
    if rev.isdigit() and len(rev) < 7:  # a generation of the newest run, as show and revert take
        rev = _generation(repo, int(rev))
    report = report_of(repo, rev, opts)
    repo.add_note(report["commit"], json.dumps(report, indent=1, sort_keys=True), NOTES)

    click.echo(
        {
            "json": lambda: json.dumps(report, indent=1),
            "markdown": lambda: _markdown(report),
            "table": lambda: _table(report),
        }[opts.fmt]()
    )
    if opts.pr_comment is not None:
        from sia_git.forges.github import GitHubForge

        forge = GitHubForge.create(repo)
        done = forge.upsert_comment(opts.pr_comment, _markdown(report), COMMENT_MARKER)
        click.echo(f"{done} the sia-git eval comment on pull request #{opts.pr_comment}", err=True)
    if opts.fail_on_regression and report["regression"]:
        click.echo(f"sia-git: regression: {report['verdict']}", err=True)
        return 1
    return 0


def report_of(repo: Repo, rev: str, opts: Options) -> dict[str, Any]:
    """`rev`'s report: from the evaluation cache, else its agent (and baseline's) run again."""
    memo = _memo_key(repo, rev, opts)
    found = eval_memo.load(repo, memo) if memo else None
    if found is not None:
        found["cached"] = True  # both scores were answered from the evaluation cache before
        for line in found.get("ignored", []):
            click.echo(f"ignored (the commit's, not trusted): {line}", err=True)
        return found
    found = _rescored_report(repo, rev, opts)
    if memo:
        eval_memo.store(repo, memo, found)
    return found


def _rescored_report(repo: Repo, rev: str, opts: Options) -> dict[str, Any]:
    """Run (or read from the evaluation cache) the agent at `rev` and its baseline."""
    from sia_git.evolve.rescore import rescore  # here: the task, settings and evaluator it imports

    say = _say(opts.fmt)
    decided, ignored = _decide(repo, rev, opts)
    for line in ignored:  # said before the agent runs: a failed run still names them
        say(f"ignored (the commit's, not trusted): {line}")
    now = rescore(repo, rev, decided, say=say)
    if not now.outcome.ok:
        raise SiaError(f"{rev}: {_failed(now)}")
    bisecting = opts.bisect is not None  # a bisect step judges the commit alone
    base = None if bisecting else _baseline(repo, now, opts.baseline, say=say, decided=decided)
    return {**_report(now, base, opts), "ignored": ignored}


def _decide(repo: Repo, rev: str, opts: Options) -> tuple[Decided, list[str]]:
    """The trusted task and settings for `rev`, and what its commit said that is not used."""
    from sia_git.evolve import trust
    from sia_git.store import runrecord
    from sia_git.store.runs import read_run_toml

    sha = repo.rev_parse(rev)
    if sha is None:
        raise SiaError(f"no such commit: {rev}")
    from sia_git.evolve.rescore import entry_of

    entry_of(repo, sha)  # a commit that is not a generation is refused first, by name
    branch = read_run_toml(repo, sha)
    decided = trust.decide(repo, runrecord.run_of(repo, sha), branch, flags=opts.flags())
    ignored = [f"sia-agent/run.toml: {line}" for line in decided.ignored]
    changed = trust.copy_differences(repo, sha, decided.task)
    if changed:
        ignored.append(
            f"sia-agent/task/: {', '.join(changed[:8])}{' ...' if len(changed) > 8 else ''} "
            f"(the task used: {decided.task.source})"
        )
    if (repo.read_file(sha, trust.HOOKS_CONFIG) or None) != trust.user_hooks(repo):
        ignored.append(f"{trust.HOOKS_CONFIG} (the gates use this checkout's)")
    return decided, ignored


def _memo_key(repo: Repo, rev: str, opts: Options) -> str | None:
    """The report memo's key for `rev` and its baseline (the named one, or the parent when
    it is a generation of the run), or None when either cannot be resolved here: then the
    slow path runs, and says what is wrong."""
    sha = repo.rev_parse(rev)
    if sha is None:
        return None
    if opts.bisect is not None:
        base = None
    elif opts.baseline is not None:
        base = repo.rev_parse(opts.baseline)
        if base is None:
            return None
    else:
        parent = repo.rev_parse(f"{sha}^")
        has_agent = parent is not None and repo.read_file(parent, "sia-agent/run.toml") is not None
        base = parent if has_agent else None
    shas = [sha] + ([base] if base else [])
    bisect = ["alone"] if opts.bisect is not None else []
    return eval_memo.key(
        repo, shas, opts.flags(), options=[opts.split, repr(opts.tolerance), *bisect]
    )


def _generation(repo: Repo, gen: int) -> str:
    runs = H.list_runs(repo)
    if not runs:
        raise SiaError("no sia-git runs in this repository: name a commit (REV)")
    entry = H.load(repo, runs[0]).generation(gen)
    if entry is None:
        raise SiaError(f"run {runs[0]} has no generation {gen} on its branch (see `sia-git log`)")
    return entry.sha


def _newest_tip(repo: Repo) -> str:
    """The newest run's latest generation still in force: its tip, unless the tip is a revert
    or a person's commit (not a generation to score; said on stderr)."""
    runs = H.list_runs(repo)
    if not runs:
        raise SiaError("no sia-git runs in this repository: name a commit (REV)")
    hist = H.load(repo, runs[0])
    live = [e for e in hist.branch if e.kind == "generation" and e.status == "accepted"]
    if hist.tip.kind == "generation" or not live:
        return H.branch(runs[0])
    click.echo(f"the tip of {H.branch(runs[0])} ({hist.tip.sha[:10]}) is not a generation; "
               f"scoring generation {live[-1].gen} ({live[-1].sha[:10]}), the latest still in "
               "force (name a REV for another)", err=True)  # fmt: skip
    return live[-1].sha


def _say(fmt: str) -> Any:
    return lambda line: click.echo(line, err=True)


def _baseline(
    repo: Repo, now: Rescored, rev: str | None, *, say: Any, decided: Decided
) -> Rescored | None:
    """The named baseline, or the generation's parent commit when it is on the run branch (the
    first generation's parent is the user's commit: it has no agent to run)."""
    if rev is None:
        parent = repo.rev_parse(f"{now.sha}^")
        if parent is None or repo.read_file(parent, "sia-agent/run.toml") is None:
            return None
        rev = parent
    from sia_git.evolve.rescore import rescore

    base = rescore(repo, rev, decided, say=say, generation=False)
    if not base.outcome.ok:
        raise SiaError(f"baseline {rev}: {_failed(base)}")
    return base


def _failed(r: Rescored) -> str:
    """What happened to an agent, without "timed-out: timed out"."""
    status, reason = str(r.outcome.status), r.outcome.reason
    if reason.lower().startswith(status.replace("-", " ")):
        return f"the agent {reason}"
    return f"the agent {status.replace('-', ' ')}: {reason}"


def _report(now: Rescored, base: Rescored | None, opts: Options) -> dict[str, Any]:
    task = now.task
    splits = task.splits if opts.split == "all" else [opts.split]
    unknown = [s for s in splits if s not in task.splits]
    if unknown:
        raise SiaError(f"--split {unknown[0]}: task {task.name} scores {', '.join(task.splits)}")
    committed = {task.select: now.entry.score}
    for s in task.splits[1:]:
        committed[s] = T.read_float(
            now.entry.trailers.get(T.SCORE_TEST if s == "test" else f"Sia-Score-{s}")
        )
    sign = 1 if task.manifest.metric.direction == "maximize" else -1
    rows = []
    for s in splits:
        score = now.outcome.score(s)
        b = base.outcome.score(s) if base else None
        rows.append(
            {
                "split": s,
                "score": score,
                "baseline": b,
                "committed": committed.get(s),
                "delta": None if score is None or b is None else score - b,
                "sealed": s in task.plan.sealed,  # only the run's released value is shown
            }
        )
    gate = next((r for r in rows if r["split"] == task.select), rows[0])
    drop = -sign * gate["delta"] if gate["delta"] is not None else 0.0
    regression = drop > opts.tolerance + 1e-12
    verdict = (
        f"{gate['split']} {gate['score']:.4f} vs baseline {gate['baseline']:.4f} "
        f"({'regression' if regression else 'within tolerance' if drop > 0 else 'ok'}; "
        f"tolerance {opts.tolerance:g})"
        if gate["delta"] is not None
        else "no baseline (the first generation)"
    )
    return {
        "commit": now.sha,
        "generation": now.entry.gen,
        "run": now.entry.trailers.get(T.RUN),
        "task": task.name,
        "task_version": task.manifest.version,
        "metric": task.manifest.metric.name,
        "direction": task.manifest.metric.direction,
        "adapter": now.outcome.adapter,
        "cached": now.cached,
        "baseline": None if base is None else {"commit": base.sha, "generation": base.entry.gen},
        "splits": rows,
        "regression": regression,
        "tolerance": opts.tolerance,
        "verdict": verdict,
    }


def _fmt(v: float | None, signed: bool = False, sealed: bool = False) -> str:
    if v is None:
        return "sealed" if sealed else "-"
    return f"{v:+.4f}" if signed else f"{v:.4f}"


def _title(r: dict[str, Any]) -> str:
    base = r["baseline"]
    against = ""
    if base:
        who = f"generation {base['generation']}" if base["generation"] else "its parent"
        against = f" vs {who} ({base['commit'][:10]})"
    return f"generation {r['generation']} ({r['commit'][:10]}){against}" + (
        f", adapter {r['adapter'][:19]}" if r["adapter"] else ""
    )


def _table(r: dict[str, Any]) -> str:
    lines = [_title(r), f"{'split':<8} {'score':>8} {'baseline':>9} {'delta':>8} {'committed':>10}"]
    for row in r["splits"]:
        sealed = bool(row.get("sealed"))
        lines.append(
            f"{row['split']:<8} {_fmt(row['score'], sealed=sealed):>8} "
            f"{_fmt(row['baseline'], sealed=sealed):>9} "
            f"{_fmt(row['delta'], True):>8} {_fmt(row['committed']):>10}"
        )
    lines.append(r["verdict"])
    return "\n".join(lines)


def _markdown(r: dict[str, Any]) -> str:
    icon = "❌ regression" if r["regression"] else "✅ no regression"
    rows = "\n".join(
        f"| {x['split']} | {_fmt(x['score'], sealed=bool(x.get('sealed')))} | "
        f"{_fmt(x['baseline'], sealed=bool(x.get('sealed')))} | "
        f"{_fmt(x['delta'], True)} | {_fmt(x['committed'])} |"
        for x in r["splits"]
    )
    ignored = "".join(f"\n- ignored (the commit's, not trusted): {x}" for x in r.get("ignored", []))
    return (
        f"### sia-git eval: {icon}\n\n{_title(r)} — {r['metric']} "
        f"({'higher' if r['direction'] == 'maximize' else 'lower'} is better)\n\n"
        f"| split | score | baseline | delta | committed |\n|---|---|---|---|---|\n{rows}\n\n"
        f"{r['verdict']}\n{ignored}"
    )
