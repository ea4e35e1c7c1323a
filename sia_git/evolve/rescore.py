"""Score a committed generation again: its agent code and its pinned adapter, run in the sandbox
on the task and with the settings the evaluating side decides (trust.py: never what the commit
says), scored by the trusted evaluator. The same commit gives the same score: this is how a
pulled adapter is shown to be exactly the one the commit was scored with.

Results are cached in `.git/sia/eval-cache/` by what decides them: the agent's tree, the adapter
pin, the task and its version, the seed and the sandbox; re-scoring an unchanged agent costs
nothing. Sealed splits' scores are neither cached nor returned: they leave a run only through
its release rule (sealed.py), for committed generations."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sia_git import settings as configmod
from sia_git.core.errors import GateFailed, SiaError
from sia_git.evolve import trust
from sia_git.evolve.outcome import Outcome
from sia_git.gitrepo import Repo
from sia_git.store import history as H
from sia_git.store import trailers as T
from sia_git.store.records import Status
from sia_git.store.runs import CODE_DIR, agent_files
from sia_git.tasks.evaluation import Evaluation, SplitScore
from sia_git.tasks.task import Task
from sia_git.weights import pins


@dataclass
class Rescored:
    sha: str
    entry: H.Entry
    task: Task
    outcome: Outcome
    cached: bool = False

    @property
    def committed(self) -> float | None:
        return self.entry.score

    def scores(self) -> dict[str, float | None]:
        return {s: self.outcome.score(s) for s in self.task.splits}


def entry_of(repo: Repo, sha: str) -> H.Entry:
    raw = repo.log(f"{sha}^!", H.LOG_FMT)
    entry = H.entry(raw[0])
    if entry.kind != "generation":
        raise SiaError(f"{sha[:10]} is not a sia-git generation (it has no {T.GENERATION} trailer)")
    return entry


def rescore(
    repo: Repo,
    rev: str,
    decided: trust.Decided,
    *,
    say: Callable[[str], None],
    generation: bool = True,
    use_cache: bool = True,
) -> Rescored:
    """Run `rev`'s agent again with the decided task and settings. `generation=False` accepts
    any commit of a run branch (a revert, a person's commit), as a baseline."""
    sha = repo.rev_parse(rev)
    if sha is None:
        raise SiaError(f"no such commit: {rev}")
    entry = entry_of(repo, sha) if generation else H.entry(repo.log(f"{sha}^!", H.LOG_FMT)[0])
    task, cfg = decided.task, decided.cfg
    key = _cache_key(repo, sha, task, cfg=cfg)
    hit = _cached(repo, key) if use_cache else None
    if hit is not None:
        return Rescored(sha, entry, task, hit, cached=True)
    scratch = repo.sia_dir / "scratch" / f"eval-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        out = _run(repo, sha, task, cfg=cfg, scratch=scratch, say=say)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if out.evaluation is not None:
        for split in task.plan.sealed:
            out.evaluation.splits.pop(split, None)
    if out.ok:
        _store(repo, key, out)
    return Rescored(sha, entry, task, out)


def _cache_key(repo: Repo, sha: str, task: Task, *, cfg: configmod.EvolveConfig) -> str:
    agent = repo.git("rev-parse", f"{sha}:{CODE_DIR}").strip()
    pin = repo.git("rev-parse", "--verify", "--quiet", f"{sha}:{pins.PIN}", check=False).strip()
    parts = [
        "items",  # entries keep the unsealed splits' per-item results (ablate pairs them)
        agent,
        pin or "-",
        task.source,
        task.manifest.version,
        str(cfg.seed),
        json.dumps(task.plan.record(), sort_keys=True),
        cfg.sandbox,
        str(cfg.agent_timeout_s),
        str(cfg.memory_mb),
        str(cfg.target_model),
        trust.user_hooks(repo) or "-",
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _cached(repo: Repo, key: str) -> Outcome | None:
    path = repo.sia_dir / "eval-cache" / f"{key}.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    splits = {
        s: SplitScore(v["score"], v.get("metrics", {}), v.get("items", []))
        for s, v in data["splits"].items()
    }
    out = Outcome(0, None, {}, Status.OK, evaluation=Evaluation(splits, []))
    out.adapter = data.get("adapter")
    return out


def _store(repo: Repo, key: str, out: Outcome) -> None:
    assert out.evaluation is not None
    folder = repo.sia_dir / "eval-cache"
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "adapter": out.adapter,
        "splits": {
            s: {"score": v.score, "metrics": v.metrics, "items": v.items}
            for s, v in out.evaluation.splits.items()  # sealed splits were dropped before
        },
    }
    tmp = folder / f".{key}.{os.getpid()}"
    tmp.write_text(json.dumps(data))
    os.replace(tmp, folder / f"{key}.json")


def _target_model(cfg: configmod.EvolveConfig, task: Task) -> Any:
    """The model the agent called in its run (through the gateway), as the run recorded it or
    the task names it; the proposer's model is not needed (nor its key)."""
    from sia_git.evolve import roles

    target_only = cfg.model_copy(update={"model": None, "api_base": None, "api_key_env": None})
    return roles.build(target_only, task_target=task.manifest.agent.target_model)


def _run(
    repo: Repo,
    sha: str,
    task: Task,
    *,
    cfg: configmod.EvolveConfig,
    scratch: Path,
    say: Callable[[str], None],
) -> Outcome:
    """Gate and run the agent at `sha`, as `evolve` would: a hand-made commit whose agent fails
    the gates is refused, not run (the gate cache makes this free for generations evolve ran)."""
    # Only on a cache miss: a cache hit must answer without the sandbox, gates or hub clients.
    from sia_git.evolve import environment
    from sia_git.evolve.candidates import try_candidate
    from sia_git.evolve.environment import Attempt
    from sia_git.gates.precommit import CandidateGates
    from sia_git.weights import publish

    env = environment.build(task, cfg, scratch, store=publish.store_of(repo), say=say)
    gates = CandidateGates.for_run(
        trust.user_hooks(repo),
        repo.sia_dir / "gate-cache",
        task.manifest.agent.forbid_packages,
        scratch=scratch / "hooks-setup",
        allow=task.manifest.agent.allow_rules,
        secrets=repo.redactor.secrets,
    )
    adapter = None
    pin = pins.read(repo, sha)
    if env.weights is not None and pin is not None:
        publish.pull(repo, sha, None, endpoint=cfg.hub_endpoint)  # fetched from the hub if need be
        adapter = pin.address
    models = _target_model(cfg, task)
    try:
        env = dataclasses.replace(env, gates=gates, target=models.target, hosted=models.hosted)
        out = try_candidate(
            env, Attempt(0, agent_files(repo, sha), scratch / "run", cfg.seed, adapter=adapter)
        )
    finally:
        env.sandbox.close()
        models.close()
    if out.status == Status.GATE_FAILED:
        raise GateFailed(f"{sha[:10]}: its agent fails the gates, so it is not run: {out.reason}")
    return out
