"""The history cache (.git/sia/cache) never changes what a run's history reads as: after more
generations, a revert, a deleted ref, a rewritten branch or a corrupt cache file, a cached read
equals a read from git alone."""

from __future__ import annotations

import shutil
from pathlib import Path

from sia_git.gitrepo import open_repo
from sia_git.store import history as H
from sia_git.store import history_cache
from tests.conftest import Runner, git, run_ids


def fresh_and_cached(repo_path: Path, run_id: str) -> tuple[H.RunHistory, H.RunHistory]:
    repo = open_repo(repo_path)
    cached = H.load(repo, run_id)
    shutil.rmtree(repo.sia_dir / "cache", ignore_errors=True)
    fresh = H.load(repo, run_id)  # and writes the cache again
    return fresh, cached


def test_a_cached_history_always_equals_one_read_from_git(repo: Path, sia: Runner) -> None:
    assert sia("evolve", "--task", "penguins", "--max-gen", "3", cwd=repo).returncode == 0
    [run_id] = run_ids(repo)
    fresh, cached = fresh_and_cached(repo, run_id)
    assert fresh == cached and len(fresh.branch) >= 2 and fresh.rejected
    cache = history_cache._path(open_repo(repo), run_id)
    assert cache.is_file()

    # More generations: the branch is read from the cached tip on.
    done = sia("evolve", "--run", run_id, "--max-gen", "5", cwd=repo)
    assert done.returncode == 0, done.stderr
    fresh, cached = fresh_and_cached(repo, run_id)
    assert fresh == cached and fresh.last_generation == 5

    # A revert on top, then a rejected candidate's ref deleted by hand.
    accepted = [e.gen for e in fresh.branch if e.kind == "generation" and e.status == "accepted"]
    assert sia("revert", str(accepted[-1]), cwd=repo).returncode == 0
    fresh, cached = fresh_and_cached(repo, run_id)
    assert fresh == cached and fresh.tip.kind == "revert"
    gone = fresh.rejected[0].ref
    assert gone is not None
    H.load(open_repo(repo), run_id)  # cache now holds the ref
    git(repo, "update-ref", "-d", gone)
    fresh, cached = fresh_and_cached(repo, run_id)
    assert fresh == cached and gone not in {e.ref for e in cached.rejected}

    # The branch rewritten to an older commit: not an extension, read again in full.
    H.load(open_repo(repo), run_id)
    git(repo, "update-ref", f"refs/heads/sia/{run_id}", fresh.branch[0].sha)
    fresh, cached = fresh_and_cached(repo, run_id)
    assert fresh == cached and len(cached.branch) == 1

    # A corrupt cache file is ignored and replaced.
    cache.write_text("{not marshal data")
    fresh, cached = fresh_and_cached(repo, run_id)
    assert fresh == cached
