"""A run with thousands of generations, made in seconds with `git fast-import`.

`build(repo, gens)` first evolves penguins for 2 real generations (so every object a run holds
is real: the agent tree, run.toml, the task copy, attempt and confirmation records), then
appends generations 3..gens to the run: each an accepted commit on the run branch with the full
set of trailers, one rejected candidate, an attempt record and a confirmation record, all
sharing the real trees. Refs are packed afterwards, as `git gc` would leave them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sia_git.evolve.loop import start  # noqa: E402
from sia_git.store import trailers as T  # noqa: E402

IDENT = "bench <bench@localhost>"


def _git(repo: Path, *args: str, data: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args],
        cwd=repo,
        input=data,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode().strip()


def _commit(ref: str, parent: str, message: str, when: int, mark: int | None = None) -> bytes:
    body = message.encode()
    marked = f"mark :{mark}\n" if mark is not None else ""
    return (
        (f"commit {ref}\n{marked}committer {IDENT} {when} +0000\ndata {len(body)}\n").encode()
        + body
        + f"\nfrom {parent}\n\n".encode()
    )


def _message(run_id: str, gen: int, cand: int, score: float, rejected: bool) -> str:
    tr = [
        (T.RUN, run_id),
        (T.GENERATION, str(gen)),
        (T.PARENT, str(gen - 1)),
        (T.LEVER, "knobs"),
        (T.SCORE, T.score_value(score)),
        (T.SCORE_TEST, T.score_value(score - 0.01)),
        (T.METRIC, "accuracy (higher is better, split dev)"),
        (T.MODEL, "none"),
        (T.COST, "0.000000"),
        (T.GATES, "ruff=pass bandit=pass semgrep=pass secrets=pass"),
        (T.KNOBS, T.knobs_value({"k": gen % 25 + 1, "model": "knn"})),
        (T.CANDIDATE, f"{cand}/2"),
    ]
    if rejected:
        tr.append((T.REJECTED, "not the best candidate of its generation (c1 was)"))
    return T.render(
        f"gen {gen}: knobs k {gen % 25}→{gen % 25 + 1}",
        "Synthetic generation for the `sia-git log` benchmark.",
        tr,
    )


def build(repo: Path, gens: int) -> str:
    """Make `repo` (an empty folder) a repository holding one run of `gens` generations."""
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "-q", "--initial-branch=main")
    (repo / "README.md").write_text("bench\n")
    _git(repo, "add", "README.md")
    _git(repo, "commit", "-qm", "init")
    run_id = start(
        repo,
        {"task": "penguins", "max_gen": 2, "candidates": 2, "workers": 2},
        echo=lambda line: None,
    )
    refs = f"refs/sia/{run_id}"
    tip = _git(repo, "rev-parse", f"refs/heads/sia/{run_id}")
    record = _git(repo, "rev-parse", f"{refs}/attempts/g0002")
    confirmed = (
        _git(repo, "rev-parse", f"{refs}/confirmed/g0002")
        if subprocess.run(
            ["git", "rev-parse", "-q", "--verify", f"{refs}/confirmed/g0002"],
            cwd=repo,
            capture_output=True,
        ).returncode
        == 0
        else record
    )
    when = int(_git(repo, "log", "-1", "--format=%ct", tip))
    stream: list[bytes] = []
    parent = tip
    for gen in range(3, gens + 1):
        when += 1
        score = 0.5 + 0.45 * gen / gens
        stream.append(
            _commit(
                f"refs/sia/{run_id}/rejected/g{gen:04d}-c2",
                parent,
                _message(run_id, gen, 2, score - 0.05, True),
                when,
            )
        )
        stream.append(
            _commit(
                f"refs/heads/sia/{run_id}",
                parent,
                _message(run_id, gen, 1, score, False),
                when,
                mark=gen,
            )
        )
        parent = f":{gen}"
        stream.append(
            _commit(
                f"{refs}/attempts/g{gen:04d}",
                record,
                T.render(f"sia attempt record: run {run_id} gen {gen}", "", [(T.COST, "0")]),
                when,
            )
        )
        stream.append(
            _commit(
                f"{refs}/confirmed/g{gen:04d}",
                confirmed,
                T.render(f"sia confirmation: run {run_id} gen {gen}", "", [(T.COST, "0")]),
                when,
            )
        )
    _git(repo, "fast-import", "--quiet", "--force", data=b"".join(stream))
    _git(repo, "pack-refs", "--all")
    return run_id


if __name__ == "__main__":
    import tempfile
    import time

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        rid = build(Path(tmp) / "repo", n)
        print(f"built run {rid} with {n} generations in {time.perf_counter() - t0:.1f} s")
