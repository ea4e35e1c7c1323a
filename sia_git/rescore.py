"""Score a committed generation again: its agent code and its pinned adapter, run in the sandbox
on the task the run recorded, scored by the trusted evaluator. The same commit gives the same
score: this is how a pulled adapter is shown to be exactly the one the commit was scored with."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sia_git import config as configmod
from sia_git import history as H
from sia_git import trailers as T
from sia_git.candidates import Outcome, try_candidate
from sia_git.errors import SiaError
from sia_git.gitrepo import Repo
from sia_git.runs import agent_files, read_run_toml, stage_dataset
from sia_git.sandbox import Limits, Sandbox, choose_backend
from sia_git.task import Task, from_source
from sia_git.weights import pins, publish
from sia_git.weights.runtime import WeightsRuntime


@dataclass
class Rescored:
    sha: str
    entry: H.Entry
    task: Task
    outcome: Outcome

    @property
    def committed(self) -> float | None:
        return self.entry.score


def entry_of(repo: Repo, sha: str) -> H.Entry:
    raw = repo.log(f"{sha}^!", H.LOG_FMT)
    entry = H.entry(raw[0])
    if entry.kind != "generation":
        raise SiaError(f"{sha[:10]} is not a sia-git generation (it has no {T.GENERATION} "
                       "trailer)")
    return entry


def rescore(repo: Repo, rev: str, say: Callable[[str], None]) -> Rescored:
    sha = repo.rev_parse(rev)
    if sha is None:
        raise SiaError(f"no such commit: {rev}")
    entry = entry_of(repo, sha)
    recorded = read_run_toml(repo, sha)
    task = from_source(str(recorded.get("task_source", "")))
    cfg = configmod.load(repo.root, {}, recorded.get("settings", {}))
    scratch = repo.sia_dir / "scratch" / f"eval-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        return Rescored(sha, entry, task, _run(repo, sha, task, cfg, scratch, say))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(repo: Repo, sha: str, task: Task, cfg: configmod.EvolveConfig, scratch: Path,
         say: Callable[[str], None]) -> Outcome:
    backend, warning = choose_backend(cfg.sandbox)
    if warning:
        say(f"warning: {warning}")
    a = task.manifest.agent
    dataset = stage_dataset(task, scratch / "dataset")
    weights, adapter = None, None
    pin = pins.read(repo, sha)
    if task.manifest.weights is not None:
        weights = WeightsRuntime.build(task.manifest.weights, task.name, dataset,
                                       publish.store_of(repo), cfg.train_timeout_s,
                                       cfg.train_memory_mb, cfg.hub_repo,
                                       task.evaluator_template())
        if pin is not None:
            publish.pull(repo, sha, None, cfg.hub_endpoint)  # fetched from the hub if need be
            adapter = pin.address
    limits = Limits(timeout_s=cfg.agent_timeout_s or a.timeout_s,
                    memory_mb=cfg.memory_mb or a.memory_mb)
    return try_candidate(0, None, agent_files(repo, sha), task,
                         Sandbox(backend, a.packages, a.forbid_packages), dataset,
                         scratch / "run", limits, cfg.seed, None, weights=weights,
                         adapter=adapter)
