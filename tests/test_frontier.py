"""`sia-git frontier` (sia_git/commands/frontier.py): the Pareto set of a run's generations over
score, agent run time, code size and cost, kept as refs."""

from __future__ import annotations

import json
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
