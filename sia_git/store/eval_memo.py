"""`sia-git eval`'s answer, kept whole: a report computed once for a commit, its baseline and
the options is printed again without loading the task, its settings or the evaluator (a cache
hit in CI must answer in a blink, and those imports alone took most of a second's fifth).

The key holds everything the report depends on: the two commits (their agent, adapter pin and
run.toml are in them), the options asked for, the repository's sia-git settings files and its
pre-commit configuration (this checkout's), this machine's record of the run, sia-git's version,
and every file of the task the report scored with (name, size and modification time: an edited
answer key or evaluator is a miss, which the per-run evaluation cache below this one would not
see). The task is found as trust.py finds it (the flags, this machine's record of the run, the
settings files), never from the commit. Anything unreadable is a miss, never a guess.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from pathlib import Path
from typing import Any

from sia_git import __version__
from sia_git.core.resources import bundled
from sia_git.gitrepo import Repo

VERSION = 1
MAX_TASK_FILES = 5_000  # a bigger task folder is not fingerprinted: no memo, the slow path


def key(repo: Repo, shas: list[str], flags: dict[str, Any], *, options: list[str]) -> str | None:
    """The memo key of a report on `shas` (the commit, then its baseline) with the eval flags
    `flags` (task, task_dir, sandbox) and other `options`, or None when the task cannot be
    fingerprinted cheaply."""
    h = hashlib.sha256()
    for part in (str(VERSION), __version__, *options, json.dumps(flags, default=str), *shas):
        h.update(part.encode() + b"\0")
    for name in ("pyproject.toml", "sia-git.toml", ".pre-commit-config.yaml"):
        h.update(_read(repo.root / name) + b"\0")
    from sia_git.store.runrecord import run_of

    record = repo.sia_dir / "runs" / f"{run_of(repo, shas[0])}.toml"
    h.update(_read(record) + b"\0")
    root = _task_root(repo, record, flags)
    files = _fingerprint(root) if root is not None else None
    if files is None:
        return None
    h.update(files.encode() + b"\0")
    return h.hexdigest()


def load(repo: Repo, memo_key: str) -> dict[str, Any] | None:
    try:
        report = json.loads(_path(repo, memo_key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


def store(repo: Repo, memo_key: str, report: dict[str, Any]) -> None:
    path = _path(repo, memo_key)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(report), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a memo that cannot be written only costs time


def _path(repo: Repo, memo_key: str) -> Path:
    return repo.sia_dir / "eval-cache" / "reports" / f"{memo_key}.json"


def _task_root(repo: Repo, record: Path, flags: dict[str, Any]) -> Path | None:
    """The folder of the task the report is scored with, as trust.decide finds it."""
    if flags.get("task_dir") is not None:
        return Path(flags["task_dir"]).resolve()
    if flags.get("task"):
        return bundled("tasks") / str(flags["task"])
    try:
        source = str(tomllib.loads(record.read_text(encoding="utf-8")).get("task_source", ""))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None  # settings files may name it: the slow path finds it
    if source.startswith("builtin:"):
        return bundled("tasks") / source.removeprefix("builtin:")
    return Path(source) if source else None


def _fingerprint(root: Path) -> str | None:
    """Every file under `root`, with its size and modification time, in a stable order."""
    if not root.is_dir():
        return None
    lines = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            try:
                st = os.stat(os.path.join(folder, name))
            except OSError:
                return None
            lines.append(f"{os.path.join(folder, name)}\t{st.st_size}\t{st.st_mtime_ns}")
            if len(lines) > MAX_TASK_FILES:
                return None
    return f"{root}\n" + "\n".join(lines)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b"-"
