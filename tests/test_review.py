"""Generations as pull requests. GitHub through the real PyGithub client against
tests/fakegithub.py (a GitHub-REST-compatible server on 127.0.0.1 that stands in for
api.github.com), with a local bare repository as `origin`; and the local forge (review state
under refs/sia/reviews)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Runner, git, run_ids
from tests.fakegithub import FakeGitHub
from tests.test_evolve import branch_commits, trailers

pytestmark = pytest.mark.slow
TOKEN = "ghp_testtokenabcdefghijklmnopqrstuvwxyz12"
RUN = ("evolve", "--task", "penguins", "--max-gen", "3", "--confirm-runs", "0")


@pytest.fixture
def github(repo: Path, tmp_path: Path) -> tuple[FakeGitHub, dict[str, str]]:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    with FakeGitHub("me/project", origin, TOKEN) as gh:
        yield (
            gh,
            {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": gh.api, "GITHUB_REPOSITORY": "me/project"},
        )


def _origin_sha(gh: FakeGitHub, branch: str) -> str:
    return gh._sha(branch)


def test_a_pull_request_per_generation_opened_updated_commented_merged(
    repo: Path, sia: Runner, github: tuple[FakeGitHub, dict[str, str]]
) -> None:
    gh, env = github
    done = sia(*RUN, "--review", "pr", "--forge", "github", cwd=repo, env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    accepted = [
        c for c in branch_commits(repo, run_id) if int(trailers(repo, c)["Sia-Generation"]) > 1
    ]
    assert accepted and len(gh.pulls) == len(accepted)
    for pr, commit in zip(gh.pulls.values(), accepted, strict=True):
        gen = int(trailers(repo, commit)["Sia-Generation"])
        assert pr["head"] == f"sia/{run_id}-g{gen:04d}" and pr["base"] == f"sia/{run_id}"
        assert _origin_sha(gh, pr["head"]) == commit
        assert "| gen | commit | lever | score |" in pr["body"]
        assert "improvement note" in pr["body"] and "**Gates:** ruff=pass" in pr["body"]
        assert "**Cost:** $" in pr["body"] and "**Lever:** knobs" in pr["body"]

    done = sia("pr", "--forge", "github", "--merge", cwd=repo, env=env)
    assert done.returncode == 0, done.stderr
    assert all(p["edits"] >= 1 and p["merged"] for p in gh.pulls.values())
    assert _origin_sha(gh, f"sia/{run_id}") == accepted[-1]

    gen = trailers(repo, accepted[-1])["Sia-Generation"]
    assert (
        sia("revert", gen, "--reason", "a reviewer found a leak", cwd=repo, env=env).returncode == 0
    )
    [last] = [n for n, p in gh.pulls.items() if p["head"].endswith(f"-g{int(gen):04d}")]
    assert any("was reverted" in c and "a reviewer found a leak" in c for c in gh.comments[last])


def test_a_pull_request_per_run_is_updated_commented_and_merged(
    repo: Path, sia: Runner, github: tuple[FakeGitHub, dict[str, str]]
) -> None:
    gh, env = github
    done = sia(*RUN, "--review", "run-pr", "--forge", "github", cwd=repo, env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    [pr] = gh.pulls.values()
    assert pr["head"] == f"sia/{run_id}" and pr["base"] == "main" and pr["state"] == "open"
    tip = git(repo, "rev-parse", f"sia/{run_id}").strip()
    assert _origin_sha(gh, f"sia/{run_id}") == tip
    before = pr["edits"]
    assert sia("evolve", "--run", run_id, "--max-gen", "4", cwd=repo, env=env).returncode == 0
    assert sia("pr", "--mode", "run-pr", "--forge", "github", cwd=repo, env=env).returncode == 0
    assert len(gh.pulls) == 1 and pr["edits"] > before  # the same pull request, updated
    assert "generation" in pr["title"]

    gens = [trailers(repo, c)["Sia-Generation"] for c in branch_commits(repo, run_id)]
    assert sia("revert", gens[-1], cwd=repo, env=env).returncode == 0
    assert any("was reverted" in c for c in gh.comments[pr["number"]])
    done = sia("pr", "--mode", "run-pr", "--forge", "github", "--merge", cwd=repo, env=env)
    assert done.returncode == 0, done.stderr
    assert (
        pr["merged"] and _origin_sha(gh, "main") == git(repo, "rev-parse", f"sia/{run_id}").strip()
    )


def test_the_local_forge_keeps_reviews_in_git_and_never_moves_the_run_back(
    repo: Path, sia: Runner
) -> None:
    done = sia(*RUN, "--review", "pr", cwd=repo)
    assert done.returncode == 0, done.stderr
    [run_id] = run_ids(repo)
    tip = git(repo, "rev-parse", f"sia/{run_id}").strip()
    refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/sia/reviews/").split()
    assert refs
    review = json.loads(git(repo, "show", f"{refs[0]}:review.json"))
    assert review["base"] == f"sia/{run_id}" and "| gen | commit |" in review["body"]
    assert sia("pr", "--merge", cwd=repo).returncode == 0
    merged = json.loads(git(repo, "show", f"{refs[0]}:review.json"))
    assert merged["state"] == "merged"
    assert git(repo, "rev-parse", f"sia/{run_id}").strip() == tip


def test_a_missing_token_is_one_line(repo: Path, sia: Runner) -> None:
    assert sia(*RUN[:3], "--max-gen", "1", cwd=repo).returncode == 0
    done = sia("pr", "--forge", "github", cwd=repo, env={"GITHUB_TOKEN": "", "GH_TOKEN": ""})
    assert done.returncode != 0 and done.stderr.strip() == (
        "sia-git: error: --forge github needs a token in GITHUB_TOKEN (or GH_TOKEN)"
    )


def test_the_local_forge_opens_updates_lists_shows_and_merges_a_run_pr(
    tmp_path: Path, sia: Runner
) -> None:
    """`pr --mode run-pr --merge` with the local forge: the run's pull request into main is
    opened, re-running `pr` changes nothing (no empty update), `reviews` lists and shows it, and
    the merge fast-forwards main where it is checked out (its files follow)."""
    from tests.conftest import make_repo

    repo = make_repo(tmp_path / "clean")
    assert sia(*RUN, cwd=repo).returncode == 0
    [run_id] = run_ids(repo)
    done = sia("pr", "--review", "run-pr", cwd=repo)
    assert done.returncode == 0, done.stderr
    [ref] = git(repo, "for-each-ref", "--format=%(refname)", "refs/sia/reviews/").split()
    before = git(repo, "rev-parse", ref).strip()
    assert sia("pr", "--review", "run-pr", "--review-base", "main", cwd=repo).returncode == 0
    assert git(repo, "rev-parse", ref).strip() == before  # nothing changed, nothing written

    listed = sia("reviews", cwd=repo)
    assert listed.returncode == 0 and f"#1    open    sia/{run_id} -> main" in listed.stdout
    shown = json.loads(sia("reviews", "1", "--json", cwd=repo).stdout)
    assert shown["state"] == "open" and shown["head"] == f"sia/{run_id}"
    # The body's deltas are the ones `sia-git log` prints.
    logged = {
        r["commit"][:10]: r["delta"]
        for r in json.loads(sia("log", "--json", cwd=repo).stdout)["rows"]
        if r["status"] == "accepted"
    }
    table = [line.split("|") for line in shown["body"].splitlines() if line.startswith("| ")]
    body = {c[2].strip(" `"): c[5].strip() for c in table if c[2].strip(" `") in logged}
    assert body and all(
        body[sha] == ("-" if d is None else f"{d:+.4f}") for sha, d in logged.items() if sha in body
    )
    assert "| gen | commit |" in sia("reviews", "1", cwd=repo).stdout

    done = sia("pr", "--mode", "run-pr", "--merge", "--json", cwd=repo)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["run"] == run_id and out["reviews"][0]["state"] == "merged"
    tip = git(repo, "rev-parse", f"sia/{run_id}").strip()
    assert git(repo, "rev-parse", "main").strip() == tip
    assert (repo / "sia-agent" / "agent" / "target_agent.py").is_file()  # the checkout followed
    assert git(repo, "status", "--porcelain") == "?? notes.txt\n"
    assert json.loads(sia("reviews", "1", "--json", cwd=repo).stdout)["state"] == "merged"


def test_a_run_pr_goes_into_the_checked_out_branch_and_a_bad_base_is_refused_first(
    tmp_path: Path, sia: Runner
) -> None:
    """README's quick start makes a `master` repository: `pr --review run-pr` once targeted
    `main` there and `--merge` created a `main`; a missing `--review-base` failed only at the
    merge, with git's own error (issue 32, item 5)."""
    repo = tmp_path / "old-style"
    repo.mkdir()
    git(repo, "init", "-q", "--initial-branch=master")
    git(repo, "commit", "-q", "--allow-empty", "-m", "start")
    assert sia(*RUN, cwd=repo).returncode == 0
    [run_id] = run_ids(repo)
    for bad, says in (("nope", "no such branch"), ("a..b", "not a valid branch name")):
        done = sia("pr", "--review", "run-pr", "--review-base", bad, "--merge", cwd=repo)
        assert done.returncode == 2 and says in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert git(repo, "for-each-ref", "refs/sia/reviews/").strip() == ""  # nothing opened
    done = sia("pr", "--review", "run-pr", "--merge", "--json", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["reviews"][0]["base"] == "master"
    assert (
        git(repo, "rev-parse", "master").strip() == git(repo, "rev-parse", f"sia/{run_id}").strip()
    )
    assert git(repo, "branch", "--list", "main").strip() == ""
