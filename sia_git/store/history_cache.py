"""The git output behind a run's history, parsed, kept between calls in .git/sia/cache.

A long run has tens of thousands of commits and refs; reading all of their messages and
trailers takes git most of a second, and parsing them again on every call most of another.
Commits never change, so what was read once is kept, already parsed into the records the
caller's converters make (JSON values), keyed by object id: each call lists the run's refs
(names and ids only, which is cheap), reads the details of refs that are new or moved, and
reads the branch only from the cached tip on. The cache holds nothing that git does not, so
deleting it is always safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sia_git.gitrepo import Repo

VERSION = 2  # 2: parsed records (1 held git's raw lines)
Record = list[Any]  # what a converter makes of one line of git's output (a JSON value)
MAX_NAMED = 256  # more refs than this to read: one pass over the prefix instead


def _path(repo: Repo, run_id: str) -> Path:
    # marshal, not JSON: it reads tens of thousands of records a third faster. Its format
    # may change between Python versions, so the version is in the name.
    py = f"py{sys.version_info[0]}{sys.version_info[1]}"
    return repo.sia_dir / "cache" / f"history-{run_id}.v{VERSION}.{py}.marshal"


def read(
    repo: Repo,
    run_id: str,
    base: str,
    *,
    tip: str,
    log_fmt: str,
    ref_fmt: str,
    prefixes: list[str],
    sep: str,
    convert: tuple[Callable[[str], Record], Callable[[str], Record]],
) -> tuple[list[Record], list[Record]]:
    """(git log of base..tip in `log_fmt`, newest first; for-each-ref lines in `ref_fmt` of
    every ref under `prefixes`), each line as `convert` (log, refs) makes it a record; each
    ref's record comes after its name and object id. `ref_fmt` must start with %(refname)
    then `sep`."""
    cache = _load(repo, run_id, log_fmt + "\0" + ref_fmt)
    of_log, of_ref = convert
    with ThreadPoolExecutor(max_workers=1) as pool:
        refs = pool.submit(_refs, repo, cache, ref_fmt, prefixes=prefixes, sep=sep, of_ref=of_ref)
        log = _log(repo, cache, base, tip=tip, fmt=log_fmt, of_log=of_log)
        ref_details, current, listing = refs.result()
    # Not `fresh != cache`: comparing tens of thousands of records costs what reading them does.
    if cache.get("base") != base or cache.get("tip") != tip or listing is not None:
        fresh = {
            "version": VERSION,
            "formats": log_fmt + "\0" + ref_fmt,
            "base": base,
            "tip": tip,
            "log": log,
            "refs": ref_details,
            "listing": listing or cache.get("listing"),
        }
        _save(repo, run_id, fresh)
    return log, [[name, *ref_details[name][:1], *ref_details[name][1]] for name in current]


def _log(
    repo: Repo, cache: dict, base: str, *, tip: str, fmt: str, of_log: Callable[[str], Record]
) -> list[Record]:
    if cache.get("base") == base and cache.get("tip") == tip:
        return list(cache["log"])
    old_tip = cache.get("tip")
    if cache.get("base") == base and old_tip and _extends(repo, old_tip, tip):
        return [of_log(raw) for raw in repo.log(f"{old_tip}..{tip}", fmt)] + list(cache["log"])
    return [of_log(raw) for raw in repo.log(f"{base}..{tip}", fmt)]


def _extends(repo: Repo, old_tip: str, tip: str) -> bool:
    """Whether `old_tip` lies on `tip`'s first-parent chain (the branch only grew)."""
    chain = repo.git("rev-list", "--first-parent", f"{old_tip}..{tip}", check=False).split()
    if not chain:
        return False
    return repo.rev_parse(f"{chain[-1]}^1") == old_tip


def _refs(
    repo: Repo,
    cache: dict,
    fmt: str,
    *,
    prefixes: list[str],
    sep: str,
    of_ref: Callable[[str], Record],
) -> tuple[dict[str, list[Any]], list[str], str | None]:
    """({refname: [object id, record]} for every current ref, the names in git's order, and
    the listing's digest when it differs from the cached one: None when no ref is new, moved
    or gone, and then the listing is not even split into lines)."""
    cached: dict[str, list[Any]] = cache.get("refs", {})
    text = repo.git("for-each-ref", "--format=%(refname) %(objectname)", *prefixes)
    digest = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
    if digest == cache.get("listing"):
        return cached, list(cached), None
    listing = [line.split(" ") for line in text.splitlines() if line]
    stale = [name for name, sha in listing if cached.get(name, [None])[0] != sha]
    details = {name: cached[name] for name, _ in listing if name in cached}
    if stale:
        wanted = stale if len(stale) <= MAX_NAMED else prefixes
        ids = dict(listing)
        for line in repo.for_each_ref(wanted, fmt):
            name = line.split(sep, 1)[0].lstrip("\n")
            if name in ids:
                details[name] = [ids[name], of_ref(line)]
    return details, [name for name, _ in listing if name in details], digest


def _load(repo: Repo, run_id: str, formats: str) -> dict:
    try:
        data = marshal.loads(_path(repo, run_id).read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    if not isinstance(data, dict):
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
        tmp.write_bytes(marshal.dumps(data))
        os.replace(tmp, path)
