"""`sia-git eval`: a generation run again against its baseline, stored as a git note, cached by
tree, and failing on a regression beyond the tolerance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Runner, git, run_ids
from tests.test_evolve import branch_commits, trailers

pytestmark = pytest.mark.slow


@pytest.fixture
def run(repo: Path, sia: Runner) -> tuple[Path, list[str]]:
    done = sia(
        "evolve",
        "--accept",
        "1",
        "--task",
        "penguins",
        "--max-gen",
        "3",
        "--confirm-runs",
        "0",
        cwd=repo,
    )
    assert done.returncode == 0, done.stderr
    [run_id] = run_ids(repo)
    return repo, branch_commits(repo, run_id)


def test_a_gain_passes_and_the_result_is_a_plain_git_note(
    run: tuple[Path, list[str]], sia: Runner
) -> None:
    repo, commits = run
    first, later = commits[0], commits[-1]
    done = sia("eval", later, "--json", "--fail-on-regression", cwd=repo)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["baseline"]["commit"] == git(repo, "rev-parse", f"{later}^").strip()
    dev = report["splits"][0]
    assert dev["split"] == "dev" and dev["score"] == float(trailers(repo, later)["Sia-Score"])
    assert dev["delta"] > 0 and not report["regression"]
    note = json.loads(git(repo, "notes", "--ref", "sia-eval", "show", later))
    assert note["splits"] == report["splits"] and note["commit"] == later
    # Unchanged tree: the second evaluation is answered from the cache.
    again = json.loads(sia("eval", later, "--json", cwd=repo).stdout)
    assert again["cached"] and again["splits"] == report["splits"]
    # The first generation has no baseline: nothing to regress from.
    assert (
        json.loads(sia("eval", first, "--json", "--fail-on-regression", cwd=repo).stdout)[
            "baseline"
        ]
        is None
    )


def test_a_regression_beyond_the_tolerance_fails(run: tuple[Path, list[str]], sia: Runner) -> None:
    repo, commits = run
    first, later = commits[0], commits[-1]
    worse = sia("eval", first, "--baseline", later, "--fail-on-regression", cwd=repo)
    assert worse.returncode == 1
    assert "regression" in worse.stdout and "sia-git: regression: dev" in worse.stderr
    drop = float(trailers(repo, later)["Sia-Score"]) - float(trailers(repo, first)["Sia-Score"])
    tolerated = sia(
        "eval",
        first,
        "--baseline",
        later,
        "--fail-on-regression",
        "--tolerance",
        f"{drop + 0.01:.4f}",
        cwd=repo,
    )
    assert tolerated.returncode == 0, tolerated.stderr
    md = sia("eval", first, "--baseline", later, "--markdown", cwd=repo).stdout
    assert md.startswith("### sia-git eval: ❌ regression") and "| dev |" in md
    only_test = json.loads(sia("eval", later, "--split", "test", "--json", cwd=repo).stdout)
    assert [r["split"] for r in only_test["splits"]] == ["test"]
    bad = sia("eval", later, "--split", "train", cwd=repo)
    assert bad.returncode != 0 and "--split train: task penguins scores dev, test" in bad.stderr


def test_a_hand_made_commit_that_fails_the_gates_is_refused_not_run(
    run: tuple[Path, list[str]], sia: Runner, tmp_path: Path
) -> None:
    """`eval` gates the agent as `evolve` does: a commit a person made by hand, with an agent
    the gates refuse, is never run; the gate report says why (exit 1: a check found something)."""
    repo, commits = run
    work = tmp_path / "hand"
    git(repo, "worktree", "add", "--quiet", "--detach", str(work), commits[-1])
    agent = work / "sia-agent" / "agent" / "target_agent.py"
    marker = tmp_path / "it-ran"
    agent.write_text(
        f"import subprocess\nsubprocess.run('touch {marker}', shell=True)\nprint(undefined)\n"
    )
    git(work, "commit", "-qam", "hand edit\n\nSia-Run: x\nSia-Generation: 9")
    sha = git(work, "rev-parse", "HEAD").strip()
    done = sia("eval", sha, cwd=repo)
    assert done.returncode == 1, (done.stdout, done.stderr)
    line = done.stderr.strip()
    assert "its agent fails the gates, so it is not run" in line and "ruff" in line
    assert not marker.exists()


def test_eval_takes_a_generation_number_as_show_and_revert_do(
    run: tuple[Path, list[str]], sia: Runner
) -> None:
    repo, commits = run
    done = sia("eval", "2", "--json", cwd=repo)
    assert done.returncode == 0, done.stderr
    gen2 = [c for c in commits if trailers(repo, c).get("Sia-Generation") == "2"]
    assert json.loads(done.stdout)["commit"] == gen2[0]
    missing = sia("eval", "99", cwd=repo)
    assert missing.returncode == 2 and "has no generation 99" in missing.stderr


def test_a_report_is_printed_again_only_while_nothing_it_depends_on_changed(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    """The report memo (sia_git/eval_memo.py): a second `eval` prints the stored report; an
    edited task file, other options or a new commit make a new one."""
    import shutil

    task = tmp_path / "task"
    shutil.copytree(Path(__file__).parents[1] / "tasks" / "penguins", task)
    args = ["--task-dir", str(task), "--max-gen", "2", "--confirm-runs", "0"]
    assert sia("evolve", *args, cwd=repo).returncode == 0
    memos = repo / ".git" / "sia" / "eval-cache" / "reports"

    def evaluate(*extra: str) -> dict:
        done = sia("eval", "--json", *extra, cwd=repo)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    first = evaluate()
    assert len(list(memos.glob("*.json"))) == 1
    again = evaluate()
    assert again["cached"] and again["splits"] == first["splits"]
    assert len(list(memos.glob("*.json"))) == 1  # the same report, printed again
    evaluate("--tolerance", "0.5")
    assert len(list(memos.glob("*.json"))) == 2  # other options: another report
    shown = task / "public" / "task.md"
    shown.write_text(shown.read_text() + "\nOne more line.\n")
    changed = evaluate()
    assert len(list(memos.glob("*.json"))) == 3  # an edited task file: computed again
    assert changed["commit"] == first["commit"]
    # An edited answer key is no longer the run's task: refused in one line, not scored.
    answers = task / "private" / "dev.csv"
    answers.write_text(answers.read_text().replace(",male\n", ",female\n", 1))
    refused = sia("eval", "--json", cwd=repo)
    assert refused.returncode == 2 and "was made with task penguins (answers sha256:" in (
        refused.stderr
    )
