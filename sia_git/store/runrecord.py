"""This machine's own record of a run (`.git/sia/runs/<run>.toml`): written by the `evolve`
that started or resumed it here, never committed or pushed, so never a clone's to forge. It is
what trust.py takes a run's task and settings from."""

from __future__ import annotations

from pathlib import Path

from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo
from sia_git.store.runs import RunToml


def record_path(repo: Repo, run_id: str) -> Path:
    return repo.sia_dir / "runs" / f"{run_id}.toml"


def write_record(repo: Repo, run_id: str, text: str) -> None:
    """Keep this machine's record of a new run (run.toml's content, the task's own path)."""
    path = record_path(repo, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def read_record(repo: Repo, run_id: str | None) -> RunToml | None:
    """This machine's record of `run_id`, typed as run.toml is; None when there is none (or
    it cannot be read: then the run is treated as one not started here)."""
    if not run_id:
        return None
    try:
        text = record_path(repo, run_id).read_text(encoding="utf-8")
        return RunToml.parse(text, str(record_path(repo, run_id)))
    except (OSError, UnicodeDecodeError, SiaError):
        return None


def run_of(repo: Repo, sha: str, limit: int = 500) -> str | None:
    """The run a commit is scored as: the nearest first-parent ancestor (itself included)
    naming a run this machine has a record of, else the run its own trailer names. A commit's
    claim only ever picks one of this machine's own trusted records."""
    out = repo.git(
        "log", "--first-parent", f"-{limit}", "--format=%(trailers:key=Sia-Run,valueonly)%x1e",
        sha, check=False,
    )  # fmt: skip
    named = [c.strip().splitlines()[0] for c in out.split("\x1e") if c.strip()]
    for run_id in named:
        if record_path(repo, run_id).is_file():
            return run_id
    return named[0] if named else None
