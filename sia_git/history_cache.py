"""The raw git output behind a run's history, kept between calls in .git/sia/cache.

A long run has tens of thousands of commits and refs; reading all of their messages and
trailers takes git most of a second. Commits never change, so what was read once is kept,
keyed by object id: each call lists the run's refs (names and ids only, which is cheap), reads
the details of refs that are new or moved, and reads the branch only from the cached tip on.
The cache holds nothing that git does not, so deleting it is always safe.
"""

from __future__ import annotations

import contextlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sia_git.gitrepo import Repo

VERSION = 1
MAX_NAMED = 256  # more refs than this to read: one pass over the prefix instead


def _path(repo: Repo, run_id: str) -> Path:
    return repo.sia_dir / "cache" / f"history-{run_id}.json"


def read(
    repo: Repo,
    run_id: str,
    base: str,
    tip: str,
    log_fmt: str,
    ref_fmt: str,
    prefixes: list[str],
    sep: str,
) -> tuple[list[str], list[str]]:
    """(git log of base..tip in `log_fmt`, newest first; for-each-ref lines in `ref_fmt` of
    every ref under `prefixes`). `ref_fmt` must start with %(refname) then `sep`."""
    cache = _load(repo, run_id, log_fmt + "\0" + ref_fmt)
    with ThreadPoolExecutor(max_workers=1) as pool:
        refs = pool.submit(_refs, repo, cache.get("refs", {}), ref_fmt, prefixes, sep)
        log = _log(repo, cache, base, tip, log_fmt)
        ref_details, current = refs.result()
    fresh = {
        "version": VERSION,
        "formats": log_fmt + "\0" + ref_fmt,
        "base": base,
        "tip": tip,
        "log": log,
        "refs": ref_details,
    }
    if fresh != cache:
        _save(repo, run_id, fresh)
    return log, [ref_details[name][1] for name in current]


def _log(repo: Repo, cache: dict, base: str, tip: str, fmt: str) -> list[str]:
    if cache.get("base") == base and cache.get("tip") == tip:
        return list(cache["log"])
    old_tip = cache.get("tip")
    if cache.get("base") == base and old_tip and _extends(repo, old_tip, tip):
        return repo.log(f"{old_tip}..{tip}", fmt) + list(cache["log"])
    return repo.log(f"{base}..{tip}", fmt)


def _extends(repo: Repo, old_tip: str, tip: str) -> bool:
    """Whether `old_tip` lies on `tip`'s first-parent chain (the branch only grew)."""
    chain = repo.git("rev-list", "--first-parent", f"{old_tip}..{tip}", check=False).split()
    if not chain:
        return False
    return repo.rev_parse(f"{chain[-1]}^1") == old_tip


def _refs(
    repo: Repo, cached: dict[str, list[str]], fmt: str, prefixes: list[str], sep: str
) -> tuple[dict[str, list[str]], list[str]]:
    """({refname: [object id, line in fmt]} for every current ref, the names in git's order)."""
    listing = [
        line.strip().split(" ") for line in repo.for_each_ref(prefixes, "%(refname) %(objectname)")
    ]
    stale = [name for name, sha in listing if cached.get(name, [None])[0] != sha]
    details = {name: cached[name] for name, _ in listing if name in cached}
    if stale:
        wanted = stale if len(stale) <= MAX_NAMED else prefixes
        ids = dict(listing)
        for line in repo.for_each_ref(wanted, fmt):
            name = line.split(sep, 1)[0].lstrip("\n")
            if name in ids:
                details[name] = [ids[name], line]
    return details, [name for name, _ in listing if name in details]


def _load(repo: Repo, run_id: str, formats: str) -> dict:
    try:
        data = json.loads(_path(repo, run_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if data.get("version") != VERSION or data.get("formats") != formats:
        return {}
    return data


def _save(repo: Repo, run_id: str, data: dict) -> None:
    path = _path(repo, run_id)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    # A cache that cannot be written (a read-only clone) only costs speed.
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
