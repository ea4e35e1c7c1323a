"""`sia-git frontier` (sia_git/commands/frontier.py): the Pareto set of a run's generations over
score, agent run time, code size and cost, kept as refs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sia_git.store.frontier import Point, pareto
from tests.conftest import Runner, git, run_ids


def test_the_pareto_set_of_known_points() -> None:
    a = Point(1, "a", 0.80, 10.0, 1000, 0.10)
    b = Point(2, "b", 0.70, 5.0, 1000, 0.10)  # slower score, faster: on the frontier
    c = Point(3, "c", 0.70, 10.0, 1000, 0.10)  # a is as fast and scores more: dominated
    d = Point(4, "d", 0.90, 20.0, 2000, 0.00)  # the best score: on the frontier
    e = Point(5, "e", 0.80, None, 1000, 0.10)  # no run time (the worst): a dominates it
    f = Point(6, "f", 0.60, 5.0, 1000, 0.20)  # b is as good everywhere and cheaper
    front = pareto([a, b, c, d, e, f], maximize=True)
    assert [p.gen for p in front] == [1, 2, 4]
    # A metric to minimise turns the score around: c's 0.70 ties b's, f's 0.60 is now best.
    low = pareto([a, b, c, d, f], maximize=False)
    assert [p.gen for p in low] == [2, 4, 6]


def test_frontier_lists_a_run_and_keeps_its_refs(repo: Path, sia: Runner) -> None:
    """An offline run that accepts any gain: every generation on its branch is a point; the
    frontier's generations get refs, and a second call replaces (not adds to) them."""
    done = sia("evolve", "--task", "penguins", "--max-gen", "4", "--accept", "1",
               "--confirm-runs", "0", cwd=repo)  # fmt: skip
    assert done.returncode == 0, done.stderr
    [run_id] = run_ids(repo)
    shown = sia("frontier", "--json", cwd=repo)
    assert shown.returncode == 0, shown.stderr
    points = json.loads(shown.stdout)["points"]
    branch = git(repo, "rev-list", f"refs/sia/{run_id}/base..sia/{run_id}").split()
    assert {p["commit"] for p in points} == set(branch)
    assert all(p["run_s"] is not None and p["code_bytes"] > 0 for p in points)
    front = [p for p in points if p["frontier"]]
    best = max(points, key=lambda p: p["score"])
    assert best["frontier"] and front
    kept = git(repo, "for-each-ref", "--format=%(objectname)", f"refs/sia/{run_id}/frontier/")
    assert sorted(kept.split()) == sorted(p["commit"] for p in front)
    git(repo, "update-ref", f"refs/sia/{run_id}/frontier/g0099", branch[-1])  # a stale one
    table = sia("frontier", cwd=repo)
    assert table.returncode == 0 and f"{len(front)} of {len(points)} generations" in table.stdout
    kept = git(repo, "for-each-ref", "--format=%(objectname)", f"refs/sia/{run_id}/frontier/")
    assert sorted(kept.split()) == sorted(p["commit"] for p in front)
    # The report shows the same frontier: its table and, with two or more timed points, a plot.
    page = repo.parent / "frontier-report.html"
    assert sia("report", run_id, "--out", str(page), cwd=repo).returncode == 0
    html = page.read_text()
    assert 'id="frontier"' in html
    assert all(p["commit"][:10] in html.split('id="frontier"')[1].split("</table>")[0]
               for p in front)  # fmt: skip
    assert ('id="frontier-plot"' in html) == (len(points) >= 2)


def test_frontier_of_a_task_spans_its_comparable_runs(repo: Path, sia: Runner) -> None:
    """`frontier --task`: two runs of penguins are one Pareto set (their points carry the run),
    kept as refs/sia-frontier/penguins/<run>/gNNNN; a run of a copy of the task with other
    answers (another version: its scores mean something else) is named as left out, not mixed
    in; a task with no run is one clear line."""
    for name, gens in (("first", "3"), ("second", "2")):
        done = sia("evolve", "--task", "penguins", "--max-gen", gens, "--accept", "1",
                   "--confirm-runs", "0", "--name", name, cwd=repo)  # fmt: skip
        assert done.returncode == 0, done.stderr
    other = repo.parent / "penguins-relabelled"
    shutil.copytree(Path(__file__).parents[1] / "tasks" / "penguins", other)
    dev = other / "private" / "dev.csv"
    rows = dev.read_text().splitlines()
    dev.write_text("\n".join(rows[:-1]) + "\n")  # one answer fewer: another task version
    done = sia("evolve", "--task-dir", str(other), "--max-gen", "1", "--name", "relabelled",
               cwd=repo)  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = sia("frontier", "--task", "penguins", "--json", cwd=repo)
    assert shown.returncode == 0, shown.stderr
    found = json.loads(shown.stdout)
    assert sorted(found["runs"]) == ["first", "second"]
    assert "answers differ" in found["left_out"]["relabelled"]
    points = found["points"]
    assert {p["run"] for p in points} == {"first", "second"}
    singles = {run: {p["gen"] for p in pareto_of(points, run)} for run in ("first", "second")}
    assert all(singles.values())
    want = pareto([Point(**p) for p in points], maximize=True)
    assert {(p["run"], p["gen"]) for p in points if p["frontier"]} == {(p.run, p.gen) for p in want}
    kept = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/sia-frontier/")
    assert sorted(kept.splitlines()) == sorted(
        f"refs/sia-frontier/penguins/{p.run}/g{p.gen:04d} {p.commit}" for p in want
    )
    table = sia("frontier", "--task", "penguins", cwd=repo)
    assert table.returncode == 0 and "of 2 runs on the frontier" in table.stdout
    assert "left out: run relabelled: another version of the task" in table.stdout
    missing = sia("frontier", "--task", "no-such-task", cwd=repo)
    assert missing.returncode != 0
    assert "no run of task 'no-such-task'" in missing.stderr
    assert "Traceback" not in missing.stderr


def pareto_of(points: list[dict], run: str) -> list[dict]:
    return [p for p in points if p["run"] == run]
