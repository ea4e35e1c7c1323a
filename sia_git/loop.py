"""The generation loop: propose, gate, run, evaluate, commit or reject, confirm, revert.

State lives in git alone (see history.py); this module only decides and asks recording.py to
write. Killing it at any point and running `evolve --run` again continues where it stopped.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sia_git import config as configmod
from sia_git import history as H
from sia_git import knobs as knobmod
from sia_git import recording as rec
from sia_git import trailers as T
from sia_git.candidates import Outcome, try_candidate
from sia_git.config import EvolveConfig
from sia_git.errors import Interrupted, SiaError
from sia_git.gitrepo import Repo, open_repo
from sia_git.lock import RunLock
from sia_git.proposer import KnobProposer, Proposal
from sia_git.runs import (
    ENTRY,
    RUN_TOML,
    RunPaths,
    agent_files,
    check_private_untracked,
    new_run_id,
    read_run_toml,
    run_toml,
    stage_dataset,
    task_copy,
)
from sia_git.sandbox import Limits, Sandbox, choose_backend
from sia_git.task import Task, from_source, resolve

Echo = Callable[[str], None]
EPS = 1e-9


@dataclass
class Context:
    repo: Repo
    paths: RunPaths
    task: Task
    cfg: EvolveConfig
    sandbox: Sandbox
    dataset: Path
    echo: Echo

    @property
    def run_id(self) -> str:
        return self.paths.run_id

    @property
    def select(self) -> str:
        return self.task.manifest.splits.select

    def limits(self) -> Limits:
        a = self.task.manifest.agent
        return Limits(timeout_s=self.cfg.agent_timeout_s or a.timeout_s,
                      memory_mb=self.cfg.memory_mb or a.memory_mb)

    def beats(self, score: float, incumbent: float) -> bool:
        """Whether `score` improves on `incumbent` by more than the configured margin (with a
        tolerance for scores read back from trailers)."""
        d = score - incumbent if self.task.manifest.metric.direction == "maximize" else (
            incumbent - score)
        return d > self.cfg.min_improvement + EPS

    def attempt(self, index: int, proposal: Proposal | None, files: dict[str, bytes],
                gen: int, seed_offset: int = 0) -> Outcome:
        scratch = self.paths.scratch / f"g{gen:04d}" / f"c{index}-{seed_offset}"
        return try_candidate(index, proposal, files, self.task, self.sandbox, self.dataset,
                             scratch, self.limits(), self.cfg.seed + seed_offset)


def start(repo_path: Path, flags: dict[str, Any], echo: Echo) -> str:
    """Begin a new run from HEAD; return its id."""
    repo = open_repo(repo_path)
    cfg = configmod.load(repo.root, flags)
    task = resolve(cfg.task, cfg.task_dir)
    check_private_untracked(repo, task)
    if cfg.agent is not None and not cfg.agent.is_file():
        raise SiaError(f"--agent: no such file: {cfg.agent}")
    run_id = new_run_id(repo, task.name)
    paths = RunPaths(repo, run_id)
    with RunLock(paths.locks, run_id):
        ctx = _context(repo, paths, task, cfg, echo)
        echo(f"run {run_id}: task {task.name}, branch {H.branch(run_id)}, sandbox "
             f"{ctx.sandbox.backend}")
        with _resumable(run_id):
            _seed_generation(ctx)
            _iterate(ctx)
    return run_id


def resume(repo_path: Path, run_id: str, flags: dict[str, Any], echo: Echo) -> str:
    """Continue a run from its branch tip after a crash, a kill, or to add generations."""
    repo = open_repo(repo_path)
    if any(flags.get(k) is not None for k in ("task", "task_dir", "agent")):
        raise SiaError("--task, --task-dir and --agent cannot be changed when resuming a run")
    paths = RunPaths(repo, run_id)
    if not H.load(repo, run_id).exists:
        raise SiaError(f"unknown run '{run_id}' (see `sia-git status` for this repository's runs)")
    with RunLock(paths.locks, run_id):
        hist = H.load(repo, run_id)
        recorded = read_run_toml(repo, hist.tip.sha)
        cfg = configmod.load(repo.root, flags, recorded.get("settings", {}))
        task = from_source(str(recorded.get("task_source", "")))
        ctx = _context(repo, paths, task, cfg, echo)
        repo.ensure_worktree(paths.worktree, H.branch(run_id))
        added = rec.ensure_notes(repo, run_id)
        echo(f"resuming run {run_id} after generation {hist.last_generation}"
             + (f" (restored {added} note(s))" if added else ""))
        with _resumable(run_id):
            _iterate(ctx)
    return run_id


@contextlib.contextmanager
def _resumable(run_id: str) -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; `sia-git evolve --run {run_id}` resumes the run") from None


def _context(repo: Repo, paths: RunPaths, task: Task, cfg: EvolveConfig, echo: Echo) -> Context:
    backend, warning = choose_backend(cfg.sandbox)
    if warning:
        echo(f"warning: {warning}")
    a = task.manifest.agent
    sandbox = Sandbox(backend, a.packages, a.forbid_packages)
    if paths.scratch.exists():
        shutil.rmtree(paths.scratch)  # what a killed process left behind
    dataset = stage_dataset(task, paths.scratch / "dataset")
    return Context(repo, paths, task, cfg, sandbox, dataset, echo)


def _seed_generation(ctx: Context) -> None:
    source = ctx.cfg.agent or ctx.task.reference_agent
    what = f"agent {source.name}" if ctx.cfg.agent else "reference agent"
    files = {ENTRY: source.read_bytes()}
    out = ctx.attempt(0, None, files, 1)
    if not out.ok:
        verdict = {"gate-failed": "failed its gates", "timed-out": "timed out",
                   "eval-failed": "could not be scored (is the task's evaluator broken?)"}
        raise SiaError(f"generation 1 ({source}) {verdict.get(out.status, out.status)}: "
                       f"{out.reason}")
    base = ctx.repo.rev_parse("HEAD")
    assert base is not None
    settings = ctx.cfg.model_dump()
    extra = {RUN_TOML: run_toml(ctx.run_id, ctx.task, settings).encode(), **task_copy(ctx.task)}
    improvement = (f"# gen 1: {what}\n\nThe starting point: {what} for task "
                   f"`{ctx.task.name}`, unchanged. Later generations must beat its score.\n")
    tree = rec.candidate_tree(ctx.repo, base, out, improvement, extra)
    parsed = _knobs(files)
    trailers = [(T.KNOBS, T.knobs_value(parsed))] if parsed else []
    msg = rec.message(ctx.run_id, 1, None, out, ctx.task, f"{what} for {ctx.task.name}",
                      improvement.split("\n", 2)[2], trailers)
    sha = ctx.repo.commit(tree, [base], msg)
    record = _record(ctx, 1, None, [out], 0, {0: sha})
    rec.publish(ctx.repo, ctx.run_id, 1, {0: sha}, 0, None,
                rec.attempt_tree(ctx.repo, record, [out]),
                [(H.ref(ctx.run_id, "base"), base, None)])
    ctx.repo.ensure_worktree(ctx.paths.worktree, H.branch(ctx.run_id))
    rec.ensure_notes(ctx.repo, ctx.run_id)
    ctx.echo(f"gen 1: {what}  {_scores(ctx, out)}  committed {sha[:10]}")


def _knobs(files: dict[str, bytes]) -> dict | None:
    try:
        parsed = knobmod.read(files[ENTRY].decode())
    except knobmod.KnobError:
        return None
    return parsed[0] if parsed else None


def _iterate(ctx: Context) -> None:
    hist = H.load(ctx.repo, ctx.run_id)
    for gen in range(hist.last_generation + 1, ctx.cfg.max_gen + 1):
        _confirm_tip(ctx, H.load(ctx.repo, ctx.run_id))
        if not _generation(ctx, H.load(ctx.repo, ctx.run_id), gen):
            break
    _confirm_tip(ctx, H.load(ctx.repo, ctx.run_id))
    _summary(ctx, H.load(ctx.repo, ctx.run_id))
    shutil.rmtree(ctx.paths.scratch, ignore_errors=True)


def _generation(ctx: Context, hist: H.RunHistory, gen: int) -> bool:
    """Run generation `gen`; return False when there is nothing left to try."""
    inc, inc_score = hist.incumbent()
    files = agent_files(ctx.repo, hist.tip.sha)
    if inc_score is None:
        baseline = ctx.attempt(0, None, files, gen)
        inc_score = baseline.score(ctx.select)
        ctx.echo(f"gen {gen}: re-scored the branch tip as the baseline: {_scores(ctx, baseline)}")
    proposals = _propose(ctx, hist, files, gen)
    if not proposals:
        return False
    with ThreadPoolExecutor(max_workers=min(ctx.cfg.workers, len(proposals))) as pool:
        outcomes = list(pool.map(
            lambda ip: ctx.attempt(ip[0], ip[1], {**files, ENTRY: ip[1].source.encode()}, gen),
            enumerate(proposals, start=1)))
    accepted, reasons = _select(ctx, outcomes, inc_score)
    commits = _commit_candidates(ctx, hist, inc, gen, outcomes, accepted, reasons)
    record = _record(ctx, gen, inc_score, outcomes, accepted, commits, reasons)
    rec.publish(ctx.repo, ctx.run_id, gen, commits, accepted, hist.tip.sha,
                rec.attempt_tree(ctx.repo, record, outcomes))
    if accepted is not None:
        ctx.repo.sync_worktree(ctx.paths.worktree)
    rec.ensure_notes(ctx.repo, ctx.run_id)
    for o in outcomes:
        verdict = (f"accepted {commits[o.index][:10]}" if o.index == accepted
                   else f"rejected: {reasons[o.index]}")
        ctx.echo(f"gen {gen} c{o.index}: {o.proposal.subject if o.proposal else ''}\n"
                 f"    {_scores(ctx, o)}  {verdict}")
    return True


def _propose(ctx: Context, hist: H.RunHistory, files: dict[str, bytes],
             gen: int) -> list[Proposal]:
    proposer = KnobProposer(f"{ctx.task.name}/{ctx.cfg.seed}",
                            ctx.task.manifest.metric.direction)
    try:
        proposals = proposer.propose(files[ENTRY].decode(), hist.trials(), gen,
                                     ctx.cfg.candidates)
    except knobmod.KnobError as exc:
        ctx.echo(f"gen {gen}: stopping: the agent's knobs are unusable: {exc}")
        return []
    if not proposals:
        ctx.echo(f"gen {gen}: stopping: the agent declares no KNOBS/KNOB_SPACE to search, or "
                 "every setting was tried (the LLM levers will propose code changes)")
    return proposals


def _commit_candidates(ctx: Context, hist: H.RunHistory, inc: H.Entry, gen: int,
                       outcomes: list[Outcome], accepted: int | None,
                       reasons: dict[int, str]) -> dict[int, str]:
    """A commit object per candidate (on top of the tip); refs come later, all at once."""
    commits = {}
    for o in outcomes:
        assert o.proposal is not None
        extra = [(T.CANDIDATE, f"{o.index}/{len(outcomes)}")]
        if o.index != accepted:
            extra.append((T.REJECTED, reasons[o.index]))
        tree = rec.candidate_tree(ctx.repo, hist.tip.sha, o, o.proposal.improvement)
        body = o.proposal.improvement.split("\n", 2)[2]
        commits[o.index] = ctx.repo.commit(tree, [hist.tip.sha], rec.message(
            ctx.run_id, gen, inc.gen, o, ctx.task, o.proposal.subject, body, extra))
    return commits


def _select(ctx: Context, outcomes: list[Outcome], incumbent: float | None
            ) -> tuple[int | None, dict[int, str]]:
    """Pick the best candidate on the selection split if it beats the incumbent."""
    reasons: dict[int, str] = {}
    scored = [o for o in outcomes if o.ok and o.score(ctx.select) is not None]
    for o in outcomes:
        if not o.ok:
            reasons[o.index] = f"{o.status}: {o.reason}"
    if not scored:
        return None, reasons
    sign = 1 if ctx.task.manifest.metric.direction == "maximize" else -1
    best = max(scored, key=lambda o: (sign * (o.score(ctx.select) or 0.0), -o.index))
    for o in scored:
        if o is not best:
            reasons[o.index] = f"not the best candidate of its generation (c{best.index} was)"
    best_score = best.score(ctx.select) or 0.0
    if incumbent is not None and not ctx.beats(best_score, incumbent):
        reasons[best.index] = (f"{best_score:.4f} does not beat the incumbent's {incumbent:.4f}"
                               + (f" by more than {ctx.cfg.min_improvement:g}"
                                  if ctx.cfg.min_improvement else ""))
        return None, reasons
    return best.index, reasons


def _record(ctx: Context, gen: int, incumbent: float | None, outcomes: list[Outcome],
            accepted: int | None, commits: dict[int, str],
            reasons: dict[int, str] | None = None) -> dict[str, Any]:
    cands = []
    for o in outcomes:
        c = rec.outcome_record(o)
        c["commit"] = commits.get(o.index)
        c["verdict"] = "accepted" if o.index == accepted else (reasons or {}).get(o.index, "")
        cands.append(c)
    return {"run": ctx.run_id, "generation": gen, "incumbent_score": incumbent,
            "select_split": ctx.select, "accepted": accepted, "candidates": cands}


def _confirm_tip(ctx: Context, hist: H.RunHistory) -> None:
    """Re-run a freshly accepted generation; revert it if its gain does not hold."""
    tip = hist.tip
    if ctx.cfg.confirm_runs == 0 or tip.kind != "generation" or (tip.gen or 1) <= 1:
        return
    record_ref = H.ref(ctx.run_id, "confirmed", f"g{tip.gen:04d}")
    if tip.gen in hist.confirmed:
        done = json.loads(ctx.repo.read_file(record_ref, "confirm.json") or "{}")
        if not done.get("held", True):
            _revert(ctx, tip, done)  # a kill came between the record and the revert
        return
    attempt = json.loads(ctx.repo.read_file(
        H.ref(ctx.run_id, "attempts", f"g{tip.gen:04d}"), "attempt.json") or "{}")
    incumbent = attempt.get("incumbent_score")
    files = agent_files(ctx.repo, tip.sha)
    reruns = [ctx.attempt(0, None, files, tip.gen or 0, seed_offset=k)
              for k in range(1, ctx.cfg.confirm_runs + 1)]
    scores = [tip.score] + [o.score(ctx.select) for o in reruns]
    held = None not in scores
    mean = sum(s for s in scores if s is not None) / len(scores)
    if held and incumbent is not None:
        held = ctx.beats(mean, incumbent)
    done = {"generation": tip.gen, "commit": tip.sha, "scores": scores, "mean": mean,
            "incumbent_score": incumbent, "held": held}
    tree = ctx.repo.make_tree(None, {"confirm.json": json.dumps(done, indent=1).encode()})
    record = ctx.repo.commit(tree, [], f"sia confirmation: run {ctx.run_id} gen {tip.gen}\n")
    ctx.repo.update_refs([(record_ref, record, None)])
    shown = ", ".join("failed" if s is None else f"{s:.4f}" for s in scores)
    ctx.echo(f"gen {tip.gen}: confirmation {'held' if held else 'FAILED'} ({shown})")
    if not held:
        _revert(ctx, tip, done)


def _revert(ctx: Context, tip: H.Entry, done: dict[str, Any]) -> None:
    inc = done.get("incumbent_score")
    shown = ", ".join("failed" if s is None else f"{s:.4f}" for s in done["scores"])
    why = (f"gain did not hold on confirmation: runs scored {shown} (mean {done['mean']:.4f})"
           + (f", not above the incumbent's {inc:.4f}" if inc is not None else ""))
    msg = T.render(f'Revert "{tip.subject}"',
                   f"This reverts commit {tip.sha}.\n\nGeneration {tip.gen}'s {why}.",
                   [(T.RUN, ctx.run_id), (T.REVERTS, tip.sha), (T.REASON, why),
                    (T.SCORE, T.score_value(inc))])
    sha = ctx.repo.revert(ctx.paths.worktree, tip.sha, msg)
    ctx.echo(f"gen {tip.gen}: reverted by {sha[:10]}: {why}")


def _scores(ctx: Context, o: Outcome) -> str:
    if not o.ok:
        return f"{o.status}: {o.reason}"
    return "  ".join(f"{s} {o.score(s):.4f}" for s in ctx.task.splits if o.score(s) is not None)


def _summary(ctx: Context, hist: H.RunHistory) -> None:
    inc, score = hist.incumbent()
    first = hist.generation(1)
    start = first.score if first else None
    gain = (f" (generation 1: {start:.4f})" if start is not None else "")
    ctx.echo(f"done: {H.branch(ctx.run_id)} at generation {inc.gen}, "
             f"{ctx.select} score {score if score is None else f'{score:.4f}'}{gain}. "
             f"Worktree: {ctx.paths.worktree}")
