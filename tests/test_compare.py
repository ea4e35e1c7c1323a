"""`sia-git diff`, `sia-git compare` and the `--json` of `log`, `diff` and `compare`, on a real
offline run, compared with snapshots (commit ids and run ids normalised). After an intended
change: `SIA_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_compare.py` and review the diff."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import Runner, make_repo, run_ids

pytestmark = pytest.mark.slow
SNAPSHOTS = Path(__file__).parent / "snapshots" / "cli"
COMMANDS = {
    "diff": ["diff", "1", "2"],
    "diff-json": ["diff", "1", "2", "--json"],
    "compare": ["compare"],
    "compare-json": ["compare", "--json"],
    "log-json": ["log", "--json"],
    "compare-runs": ["compare", "@0", "@1"],
}


def _normal(text: str, runs: list[str]) -> str:
    for i, run in enumerate(runs):
        text = text.replace(run, f"<run{i}>")
    text = re.sub(r"\b[0-9a-f]{40}\b", "<sha>", text)
    text = re.sub(r"(?<![0-9a-f])[0-9a-f]{10}(?![0-9a-f])", "<sha10>", text)
    return re.sub(r"index [0-9a-f]+\.\.[0-9a-f]+", "index <blobs>", text)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    from tests.conftest import run_sia

    repo = make_repo(tmp_path_factory.mktemp("compare") / "repo")
    for seed in ("0", "1"):
        # --accept 1: the outputs need accepted generations to show; penguins' early gains
        # are below the paired test's level (tests/test_evidence.py covers the rule).
        done = run_sia("evolve", "--task", "penguins", "--max-gen", "3", "--confirm-runs", "0",
                       "--seed", seed, "--accept", "1", cwd=repo)  # fmt: skip
        assert done.returncode == 0, done.stderr
    return repo, sorted(run_ids(repo))


@pytest.mark.parametrize("name", COMMANDS)
def test_output_matches_its_snapshot(name: str, two_runs: tuple[Path, list[str]],
                                     sia: Runner) -> None:  # fmt: skip
    repo, runs = two_runs
    args = [runs[int(a[1:])] if a.startswith("@") else a for a in COMMANDS[name]]
    prefix = next(runs[0][:n] for n in range(1, 99) if not runs[1].startswith(runs[0][:n]))
    if name.startswith("diff") or name == "log-json":
        args += ["--run", prefix]  # a unique prefix of a run id, as git takes short commits
    elif name in ("compare", "compare-json"):
        args.insert(1, prefix)
    done = sia(*args, cwd=repo)
    assert done.returncode == 0, done.stderr
    got = _normal(done.stdout, runs)
    snap = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("SIA_UPDATE_SNAPSHOTS"):
        snap.parent.mkdir(parents=True, exist_ok=True)
        snap.write_text(got)
    assert snap.is_file(), f"no snapshot for {name}; run with SIA_UPDATE_SNAPSHOTS=1"
    assert got == snap.read_text()


def test_an_ambiguous_run_prefix_is_one_line(two_runs: tuple[Path, list[str]], sia: Runner) -> None:
    repo, _ = two_runs
    done = sia("log", "--run", "penguins-", cwd=repo)
    assert done.returncode == 2 and "is ambiguous" in done.stderr


def test_diff_of_two_commits_finds_their_run_also_when_it_is_not_the_newest(
    two_runs: tuple[Path, list[str]], sia: Runner
) -> None:
    """`diff` of two hashes once looked in the newest run only (issue 32, item 10)."""
    from tests.conftest import git

    repo, runs = two_runs
    for run in runs:
        first, second = git(repo, "rev-list", "--reverse", f"refs/sia/{run}/base..sia/{run}"
                            ).split()[:2]  # fmt: skip
        done = sia("diff", first[:10], second[:10], "--json", cwd=repo)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["b"]["commit"] == second
