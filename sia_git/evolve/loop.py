"""The generation loop: propose, gate, run, evaluate, commit or reject, confirm, revert.

State lives in git alone (see history.py); this module only decides and asks recording.py to
write. Killing it at any point and running `evolve --run` again continues where it stopped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sia_git import levers
from sia_git import settings as configmod
from sia_git.core import tmpfiles
from sia_git.core.errors import Interrupted, SiaError
from sia_git.evolve import (
    executors,
    first_agent,
    lines,
    preflight,
    roles,
    selection,
    trust,
    trying,
)
from sia_git.evolve import recording as rec
from sia_git.evolve import setup as run_setup
from sia_git.evolve.candidates import Outcome
from sia_git.evolve.confirm import confirm_tip
from sia_git.evolve.context import Context, Echo
from sia_git.evolve.progress import Progress
from sia_git.evolve.proposers.base import Proposer, ProposerPort, Round
from sia_git.evolve.proposers.search import OfflineSearch
from sia_git.forges import review
from sia_git.gitrepo import STALE_LOCK_S, Repo, open_repo
from sia_git.store import history as H
from sia_git.store import refs, runrecord
from sia_git.store.lock import RunLock
from sia_git.store.records import Status
from sia_git.store.runs import (
    ENTRY,
    RunPaths,
    agent_files,
    named_run,
    new_run_id,
    read_run_toml,
    sweep_orphans,
)
from sia_git.tasks import splits
from sia_git.tasks.layout import check_private_untracked, legacy_note, run_toml
from sia_git.tasks.task import resolve
from sia_git.weights import publish
from sia_git.weights.hub import Hub


def start(
    repo_path: Path, flags: dict[str, Any], echo: Echo, *, progress: Progress | None = None
) -> str:
    """Begin a new run from HEAD; return its id. `progress` hears the run's state as it goes
    (the live display); `echo` gets every line."""
    repo = open_repo(repo_path)
    cfg = configmod.load(repo.root, flags)
    task = resolve(cfg.task, cfg.task_dir)
    task = task.with_plan(splits.for_new_run(task, cfg.select_on_test))
    check_private_untracked(repo, task)
    if cfg.agent is not None and not cfg.agent.is_file():
        what = "is a folder; name the agent's .py file" if cfg.agent.is_dir() else "no such file"
        raise SiaError(f"--agent {cfg.agent}: {what}")
    _not_in_a_run_worktree(repo)
    models = roles.build(cfg, task_target=task.manifest.agent.target_model)
    preflight.check(repo, task, cfg, has_model=models.proposer is not None)
    sweep_orphans(repo)
    tmpfiles.sweep()
    run_id = named_run(repo, cfg.name) if cfg.name else new_run_id(repo, task.name)
    paths = RunPaths(repo, run_id)
    with RunLock(paths.locks, run_id):
        # This machine's own record: what resume and eval trust (the branch is only compared).
        runrecord.write_record(
            repo, run_id, run_toml(run_id, task, cfg.model_dump(), repo_root=None)
        )
        first = cfg.agent or task.reference_agent
        ctx = run_setup.build_context(
            repo, paths, task, cfg=cfg, echo=echo, models=models, progress=progress,
            source=None if models.proposer is not None or not first.is_file()
            else first.read_text(encoding="utf-8", errors="replace"),
        )  # fmt: skip
        with _resumable(ctx):
            echo(
                f"run {run_id}: task {task.name}, branch {H.branch(run_id)}, sandbox "
                f"{ctx.sandbox.backend}, proposer {ctx.proposer.describe()}, target model "
                f"{models.target_name}"
            )
            if task.plan.selects_on_test:
                echo(
                    f"warning: --select-on-test: run {run_id} selects on the test labels of "
                    f"task {task.name}; its scores say nothing about unseen items"
                )
            echo(task.plan.describe())
            for note in task.notes:
                echo(note)
            if task.plan.report:
                echo(
                    "sealed scores are released for committed generations only, by the "
                    "Ladder rule on a grid of one standard error (docs/DESIGN.md)"
                )
            try:
                first_agent.seed_generation(ctx)
            except BaseException:
                if not H.load(repo, run_id).exists:  # nothing to resume: leave nothing behind
                    ctx.drop_scratch()
                raise
            _iterate(ctx)
    return run_id


def _not_in_a_run_worktree(repo: Repo) -> None:
    """A new run starts from HEAD: in a run's worktree that is the run's branch, and the new
    run would be built on top of it (a person means to continue that run)."""
    head = repo.git("symbolic-ref", "-q", "HEAD", check=False).strip()
    run_id = head.removeprefix("refs/heads/sia/") if head.startswith("refs/heads/sia/") else None
    if run_id and H.load(repo, run_id).exists:
        raise SiaError(
            f"this checkout is run {run_id}'s worktree: `sia-git evolve --run {run_id}` goes "
            "on with that run; start a new run from your own branch"
        )


def resume(
    repo_path: Path,
    run_id: str,
    flags: dict[str, Any],
    *,
    echo: Echo,
    progress: Progress | None = None,
    proposer: Callable[[ProposerPort], Proposer] | None = None,
) -> str:
    """Continue a run from its branch tip after a crash, a kill, or to add generations.
    `proposer` replaces the run's own for these generations (`transfer`'s one candidate)."""
    repo = open_repo(repo_path)
    if any(flags.get(k) is not None for k in ("agent", "select_on_test")):
        raise SiaError("--agent and --select-on-test cannot be changed when resuming a run")
    if flags.get("name") is not None:
        raise SiaError("--name names a new run; to resume one, give its name as --run")
    run_id = H.match_run(run_id, H.list_runs(repo))  # a unique prefix, as everywhere
    paths = RunPaths(repo, run_id)
    if not H.load(repo, run_id).exists:
        raise SiaError(f"unknown run '{run_id}' (see `sia-git status` for this repository's runs)")
    tmpfiles.sweep()
    with RunLock(paths.locks, run_id):
        # A kill mid-write leaves git's lock files: the run's own refs are ours alone now.
        repo.clear_stale_locks([refs.branch_ref(run_id), refs.run_ref(run_id, "")])
        repo.clear_stale_locks([refs.NOTES, "packed-refs"], older_than_s=STALE_LOCK_S)
        hist = H.load(repo, run_id)
        recorded = read_run_toml(repo, hist.tip.sha)
        if legacy_note(repo, hist.tip.sha, recorded):
            raise SiaError(
                f"run {run_id} was {splits.LEGACY_NOTE}; start a new run instead of resuming it"
            )
        # The branch may have been pushed by anyone: it decides only its agents (trust.py).
        decided = trust.decide(repo, run_id, recorded, flags=flags, keys=None)
        cfg, task = decided.cfg, decided.task
        for line in decided.ignored:
            echo(f"ignored (the branch's sia-agent/run.toml, not trusted): {line}")
        if not decided.local:  # from now on this machine has its own, trusted record
            runrecord.write_record(
                repo, run_id, run_toml(run_id, task, cfg.model_dump(), repo_root=None)
            )
        models = roles.build(
            cfg, spent_usd=hist.total_cost_usd, task_target=task.manifest.agent.target_model
        )
        tip = agent_files(repo, hist.tip.sha)[ENTRY].decode("utf-8", errors="replace")
        ctx = run_setup.build_context(repo, paths, task, cfg=cfg, echo=echo, models=models,
                                      progress=progress, source=tip)  # fmt: skip
        if proposer is not None:
            ctx.proposer = proposer(run_setup.proposer_port(ctx))
        with _resumable(ctx):
            rec.checkout(ctx)
            added = rec.ensure_notes(ctx.repo, run_id)
            echo(
                f"resuming run {run_id} after generation {hist.last_generation}"
                + (f" (restored {added} note(s))" if added else "")
                + (
                    f", ${models.budget.spent_usd:.4f} spent so far"
                    if models.budget.spent_usd
                    else ""
                )
            )
            _iterate(ctx)
    return run_id


@contextlib.contextmanager
def _resumable(ctx: Context) -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted; `sia-git evolve --run {ctx.run_id}` resumes the run"
        ) from None
    except executors.ClusterLost as exc:
        raise SiaError(
            f"stopping: {exc}; restart the cluster, then `sia-git evolve --run {ctx.run_id}` "
            "resumes the run"
        ) from None
    finally:
        executors.close(ctx.sandbox)
        ctx.models.close()


def _iterate(ctx: Context) -> None:
    hist = H.load(ctx.repo, ctx.run_id)
    for gen in range(hist.last_generation + 1, ctx.cfg.max_gen + 1):
        confirm_tip(ctx, H.load(ctx.repo, ctx.run_id))
        hist = H.load(ctx.repo, ctx.run_id)
        inc, score = hist.incumbent()
        ctx.progress.best(inc.gen or 0, score)
        ctx.progress.generation(gen)
        if not _generation(ctx, hist, gen):
            break
    confirm_tip(ctx, H.load(ctx.repo, ctx.run_id))
    lines.summary(ctx, H.load(ctx.repo, ctx.run_id))
    ctx.drop_scratch()


def _generation(ctx: Context, hist: H.RunHistory, gen: int) -> bool:
    """Run generation `gen`; return False when the run must stop (nothing left to try, or the
    budget is spent)."""
    inc, inc_score = hist.incumbent()
    files = agent_files(ctx.repo, hist.tip.sha)
    adapter = ctx.adapter_at(hist.tip.sha)
    if inc_score is None:
        baseline = ctx.attempt(0, None, files, gen=gen, adapter=adapter)
        inc_score = baseline.score(ctx.select)
        ctx.echo(
            f"gen {gen}: re-scored the branch tip as the baseline: {lines.scores(ctx, baseline)}"
        )
    job = trying.Job(gen, files, adapter, inc_score, selection.incumbent_items(ctx, hist),
                     selection.first_run_seconds(ctx, hist))  # fmt: skip
    outcomes = _candidates(ctx, hist, job)
    if not outcomes:
        return False
    if all(o.status == Status.BUDGET_STOPPED and not o.cost_usd for o in outcomes):
        _stop(ctx, gen, ctx.models.budget.exhausted or "budget reached")
        return False
    v = selection.judge(ctx, hist, gen, outcomes=outcomes, score=inc_score)
    commits = rec.record_generation(ctx, v)
    if ctx.reuse is not None:
        ctx.reuse.add_outcomes(outcomes, f"{ctx.run_id} gen {gen}")
    accepted, reasons = v.accepted, v.reasons
    for o in outcomes:
        why = reasons.get(o.index, "")
        # A failed candidate's reason is its failure, already on the scores line.
        shown = "" if not o.ok and why == f"{o.status}: {o.reason}" else f": {why}"
        verdict = f"accepted {commits[o.index][:10]}" if o.index == accepted else f"rejected{shown}"
        ctx.progress.state(gen, f"c{o.index}", verdict)
        ctx.echo(
            f"gen {gen} c{o.index}: {o.proposal.subject if o.proposal else ''}\n"
            f"    {lines.scores(ctx, o)}{lines.cost(ctx, o)}  {verdict}"
        )
    _upload_adapters(ctx)
    if accepted is not None:
        review.follow(ctx.repo, ctx.run_id, ctx.cfg.model_dump(), say=ctx.echo)
    if ctx.models.auth_error:
        raise SiaError(
            f"stopping: {ctx.models.auth_error}; generation {gen} is recorded, and "
            f"`sia-git evolve --run {ctx.run_id}` resumes once the key works"
        )
    if ctx.models.budget.exhausted:
        _stop(ctx, gen, ctx.models.budget.exhausted)
        return False
    return True


def _candidates(ctx: Context, hist: H.RunHistory, job: trying.Job) -> list[Outcome]:
    """Propose, gate and try this generation's candidates, all at once; the agents themselves
    run (and train) `workers` at a time (the run environment's slot)."""
    files, gen, adapter = job.files, job.gen, job.adapter
    situation = levers.Situation(
        source=files[ENTRY].decode(),
        task=ctx.task.name,
        has_weights=ctx.weights is not None,
        has_model=ctx.models.proposer is not None,
    )
    can = levers.available(situation)
    if ctx.cfg.lever != "auto":
        can = [ctx.cfg.lever] if ctx.cfg.lever in can else []
    seconds = job.run_seconds
    makers = ctx.proposer.propose(Round(hist, files, gen, adapter, tuple(can), seconds))
    outcomes = trying.run_jobs(ctx, list(enumerate(makers, start=1)), job)
    why = repeating_failure(outcomes)
    offline = tuple(lever for lever in can if lever != "harness")
    rnd = Round(hist, files, gen, adapter, offline, seconds)
    simpler = ctx.proposer.fallback(rnd, why) if why and offline else []
    if simpler:
        ctx.echo(
            f"gen {gen}: every model candidate failed the same way ({why}); the model fills "
            "knob forms instead, from now on in this run"
        )
        jobs = list(enumerate(simpler, start=len(outcomes) + 1))
        tried = trying.run_jobs(ctx, jobs, job)
        outcomes += tried
        why = None if any(o.status != Status.MODEL_FAILED for o in tried) else tried[0].reason
    elif getattr(ctx.proposer, "forms_since", None) and all_failed(outcomes):
        why = outcomes[0].reason  # the knob forms failed too
    if why and ctx.proposer.needs_model and ctx.cfg.lever != "harness" and offline:
        ctx.echo(
            f"gen {gen}: every model candidate failed the same way ({why}); the offline "
            "search proposes this generation's candidates instead"
        )
        search = OfflineSearch(run_setup.proposer_port(ctx))
        more = search.propose(rnd)
        jobs = list(enumerate(more, start=len(outcomes) + 1))
        outcomes += trying.run_jobs(ctx, jobs, job)
    return outcomes


# Failures a model will repeat on every candidate: try the offline search instead.
_REPEATING = ("does not call the tools", "did not follow the text protocol", "context",
              "refused the key", "authentication")  # fmt: skip


def all_failed(outcomes: list[Outcome]) -> bool:
    return bool(outcomes) and all(o.status == Status.MODEL_FAILED for o in outcomes)


def repeating_failure(outcomes: list[Outcome]) -> str | None:
    """The reason, when every candidate's model failed for one that will repeat."""
    if not outcomes or any(o.status != Status.MODEL_FAILED for o in outcomes):
        return None
    reasons = [o.reason for o in outcomes]
    if all(any(k in r for k in _REPEATING) for r in reasons):
        return " ".join(reasons[0].split())[:120]
    return None


def _stop(ctx: Context, gen: int, why: str) -> None:
    rec.stop(ctx, gen, why)
    ctx.echo(
        f"gen {gen}: stopping: {why}. `sia-git evolve --run {ctx.run_id} --budget-usd "
        "<more>` goes on"
    )


def _upload_adapters(ctx: Context) -> None:
    """Send the run's adapters not on the hub yet (this generation's, and any a failed upload
    left pending); a hub that is down leaves them pending, and the run goes on."""
    if ctx.weights is None or not ctx.cfg.hub_repo:
        return
    hub = Hub(ctx.cfg.hub_repo, ctx.cfg.hub_endpoint)
    items = publish.trained(ctx.repo, [ctx.run_id])
    left = publish.push_pending(
        ctx.repo,
        items,
        lambda _t: hub,
        task_of=lambda _t: ctx.task.name,
        say=lambda line: ctx.echo(f"hub: {line}"),
    )
    if left:
        ctx.echo(
            f"warning: {left} adapter(s) not on the hub yet: they are committed and "
            "stored here; `sia-git adapters push` uploads them"
        )
