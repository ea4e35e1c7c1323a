"""A run's layout: what generation 1 commits under `sia-agent/`, its `run.toml`, and the scratch
space (inside .git, never in the user's working tree) where candidates are staged."""

from __future__ import annotations

import datetime as dt
import shutil
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo
from sia_git.store import refs

if TYPE_CHECKING:  # read-only commands (log, status) start without the task model
    pass

MANIFEST = "task.toml"  # a task's manifest (task.py reads it)

AGENT_DIR = "sia-agent"  # everything sia-git commits lives under this folder of the run branch
CODE_DIR = f"{AGENT_DIR}/agent"  # the agent's code: the only part the sandbox sees
ENTRY = "target_agent.py"
IMPROVEMENT = f"{AGENT_DIR}/improvement.md"  # the one note of runs written before notes/
NOTES_DIR = f"{AGENT_DIR}/notes"
RUN_TOML = f"{AGENT_DIR}/run.toml"
TASK_COPY = f"{AGENT_DIR}/task"
MAX_TASK_COPY = 20 * 1024 * 1024


def note_path(gen: int) -> str:
    """Where generation `gen` keeps its improvement note: a file of its own, so a plain
    `git revert` of one generation takes out its note and touches no other's."""
    return f"{NOTES_DIR}/g{gen:04d}.md"


def read_notes(repo: Repo, entries: list[Any]) -> dict[str, str]:
    """Each entry's improvement note by commit (history entries: `.sha`, `.gen`), in one git
    call; a run written before notes/ has its note in improvement.md. A person's commit or a
    revert has none."""
    specs = {e.sha: (f"{e.sha}:{note_path(e.gen)}", f"{e.sha}:{IMPROVEMENT}")
             for e in entries if e.gen is not None}  # fmt: skip
    blobs = repo.read_files([s for pair in specs.values() for s in pair])
    out = {}
    for sha, (own, legacy) in specs.items():
        text = blobs.get(own) or blobs.get(legacy)
        if text is not None:
            out[sha] = text
    return out


@dataclass(frozen=True)
class RunPaths:
    repo: Repo
    run_id: str

    @property
    def worktree(self) -> Path:
        return self.repo.sia_dir / "worktrees" / self.run_id

    @property
    def scratch(self) -> Path:
        return self.repo.sia_dir / "scratch" / self.run_id

    @property
    def locks(self) -> Path:
        return self.repo.sia_dir / "locks"


def named_run(repo: Repo, name: str) -> str:
    """A run id the user chose (--name): refused when a run or branch already has it."""
    if repo.rev_parse(refs.branch_ref(name)) or repo.rev_parse(refs.base(name)):
        raise SiaError(f"--name {name}: a run with that name exists; choose another")
    return name


def new_run_id(repo: Repo, task_name: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    run_id, n = f"{task_name}-{stamp}", 1
    while repo.rev_parse(refs.branch_ref(run_id)) or repo.rev_parse(refs.base(run_id)):
        n += 1
        run_id = f"{task_name}-{stamp}-{n}"
    return run_id


RUN_TOML_SCHEMA = 2  # 1: before answers_digest and schema_version were written


class RunToml(Mapping[str, Any]):
    """A run's `run.toml`, typed: what started the run (the task's source, name, version and
    answers digest), the recorded settings and the split plan. Runs from before this schema
    (no `schema_version`) read as version 1 with what they have; keys a newer sia-git added
    are kept and ignored. It is also the mapping it was read from, for code that compares
    recorded values key by key."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)

    @classmethod
    def parse(cls, text: str, where: str) -> RunToml:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SiaError(f"{where} is invalid TOML: {exc}") from None
        for key in ("settings", "split"):
            if key in data and not isinstance(data[key], dict):
                raise SiaError(f"{where}: [{key}] must be a table")
        return cls(data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    @property
    def schema_version(self) -> int:
        v = self._data.get("schema_version", 1)
        return v if isinstance(v, int) else 1

    @property
    def run_id(self) -> str:
        return str(self._data.get("run_id", ""))

    @property
    def task_source(self) -> str:
        return str(self._data.get("task_source", ""))

    @property
    def task_name(self) -> str | None:
        v = self._data.get("task_name")
        return str(v) if v is not None else None

    @property
    def answers_digest(self) -> str | None:
        v = self._data.get("answers_digest")
        return str(v) if v is not None else None

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self._data.get("settings", {}))

    @property
    def split(self) -> dict[str, Any] | None:
        v = self._data.get("split")
        return dict(v) if isinstance(v, dict) else None


def read_run_toml(repo: Repo, rev: str) -> RunToml:
    text = repo.read_file(rev, RUN_TOML)
    if text is None:
        raise SiaError(f"{rev[:10]} has no {RUN_TOML}; is this a sia-git run branch?")
    return RunToml.parse(text, f"{RUN_TOML} on the run branch")


def agent_files(repo: Repo, rev: str) -> dict[str, bytes]:
    """The agent's code at a revision, keyed by path inside the agent folder."""
    out = {}
    for path in repo.list_files(rev, CODE_DIR):
        text = repo.read_file(rev, path)
        if text is not None:
            out[path.removeprefix(CODE_DIR + "/")] = text.encode()
    if ENTRY not in out:
        raise SiaError(f"{rev[:10]} has no {CODE_DIR}/{ENTRY}")
    return out


def sweep_orphans(repo: Repo) -> list[str]:
    """Remove the scratch space of runs that were killed before their first generation was
    recorded (no branch, nobody holding their lock); return their ids."""
    from sia_git.store.lock import RunLock

    gone = []
    scratch = repo.sia_dir / "scratch"
    for folder in sorted(scratch.iterdir()) if scratch.is_dir() else []:
        run_id = folder.name
        if (
            repo.rev_parse(f"refs/heads/sia/{run_id}") is None
            and RunLock.holder(repo.sia_dir / "locks", run_id) is None
        ):
            shutil.rmtree(folder, ignore_errors=True)
            gone.append(run_id)
    return gone
