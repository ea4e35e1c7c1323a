"""SIA's own task folders, as the `sia-agent` 0.6.0 wheel ships them, with their own evaluators.

The wheel comes from the package index (`pip download --no-deps sia-agent==0.6.0`): `.ci/run`
downloads it and names it in SIA_AGENT_WHEEL; without it the test downloads it, and skips with
the reason when the index cannot be reached. The tasks are unpacked into a temporary folder.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sia_git.core.errors import SiaError
from sia_git.tasks.evaluation import evaluate
from sia_git.tasks.task import load
from tests.conftest import Runner, git, run_ids

pytestmark = pytest.mark.slow
LAWBENCH_AGENT = '''"""Predicts every case's charge as one class of classes.json (a floor)."""
import argparse
import csv
import json
from pathlib import Path

KNOBS = {"class_index": 0}
KNOB_SPACE = {"class_index": [0, 1, 2, 3]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset_dir", type=Path, required=True)
    parser.add_argument("--working_dir", type=Path, required=True)
    args = parser.parse_args()
    classes = json.loads((args.dataset_dir / "classes.json").read_text(encoding="utf-8"))
    with (args.dataset_dir / "test.csv").open(newline="", encoding="utf-8") as f:
        ids = [r["id"] for r in csv.DictReader(f)]
    with (args.working_dir / "submission.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "label"])
        w.writerows([i, classes[KNOBS["class_index"]]] for i in ids)


if __name__ == "__main__":
    main()
'''


@pytest.fixture(scope="module")
def sia_tasks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wheel = os.environ.get("SIA_AGENT_WHEEL")
    if not wheel:
        dest = tmp_path_factory.mktemp("wheel")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--only-binary=:all:",
                "sia-agent==0.6.0",
                "-d",
                str(dest),
            ],
            capture_output=True,
            text=True,
        )
        found = sorted(dest.glob("sia_agent-*.whl"))
        if done.returncode != 0 or not found:
            pytest.skip(
                "the sia-agent 0.6.0 wheel is not here and could not be downloaded "
                "(set SIA_AGENT_WHEEL to its path; .ci/run does)"
            )
        wheel = str(found[0])
    out = tmp_path_factory.mktemp("sia")
    with zipfile.ZipFile(wheel) as z:
        z.extractall(out, [n for n in z.namelist() if n.startswith("sia/tasks/")])
    return out / "sia" / "tasks"


def _sides(task, ids: list[str]) -> dict[str, list[str]]:
    return {s: [i for i in ids if task.plan.side(i) == s] for s in ("dev", "test")}


def test_lawbench_is_split_and_scored_by_its_own_evaluator(sia_tasks: Path, tmp_path: Path) -> None:
    task = load(sia_tasks / "lawbench", source=str(sia_tasks / "lawbench"))
    plan = task.plan
    # Its evaluator reports accuracy but no per-item statuses: scored on narrowed answers.
    assert (plan.mode, plan.method, plan.narrow_fallback, plan.id_field) == (
        "hashed",
        "items",
        True,
        "id",
    )
    with (task.private_dir / "test.csv").open(newline="", encoding="utf-8") as f:
        gold = {r["id"]: r["label"] for r in csv.DictReader(f)}
    preds = {i: (g if int(i) % 3 else "wrong") for i, g in gold.items()}
    work = tmp_path / "work"
    work.mkdir()
    with (work / "submission.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["id", "label"], *preds.items()])
    ev = evaluate(task, work, tmp_path / "scratch")
    for side, ids in _sides(task, list(gold)).items():
        assert ev.score(side) == pytest.approx(sum(preds[i] == gold[i] for i in ids) / len(ids))
    assert ev.splits["test"].metrics == {} and ev.splits["test"].items == []
    result = json.loads(ev.logs["evaluator/dev.result.json"])
    assert result["n_total"] == len(_sides(task, list(gold))["dev"])


def test_gpqa_json_answers_are_narrowed_by_id(sia_tasks: Path, tmp_path: Path) -> None:
    task = load(sia_tasks / "gpqa", source=str(sia_tasks / "gpqa"))
    questions = json.loads((task.private_dir / "diamond_questions.json").read_text())
    gold = {str(q["id"]): q["correct_answer_letter"] for q in questions}
    answers = {i: (g if int(i) % 2 else "A" if g != "A" else "B") for i, g in gold.items()}
    work = tmp_path / "work"
    work.mkdir()
    (work / "submission.json").write_text(json.dumps({"answers": answers}))
    ev = evaluate(task, work, tmp_path / "scratch")
    for side, ids in _sides(task, list(gold)).items():
        assert ev.score(side) == pytest.approx(sum(answers[i] == gold[i] for i in ids) / len(ids))


def test_longcot_chess_answers_keyed_by_id_divide_and_spaceship_without_evaluator_is_named(
    sia_tasks: Path,
) -> None:
    chess = load(sia_tasks / "longcot-chess", source=str(sia_tasks / "longcot-chess"))
    ids = list(json.loads((chess.private_dir / "answers.json").read_text()))
    sides = _sides(chess, ids)
    assert chess.plan.mode == "hashed" and sides["dev"] and sides["test"]
    with pytest.raises(SiaError, match="missing evaluator of task 'spaceship-titanic'"):
        load(sia_tasks / "spaceship-titanic", source="x")


def test_evolve_on_lawbench_commits_dev_and_sealed_test_scores_and_audits_clean(
    sia_tasks: Path, repo: Path, sia: Runner, tmp_path: Path
) -> None:
    agent = tmp_path / "agent.py"
    agent.write_text(LAWBENCH_AGENT)
    done = sia(
        "evolve",
        "--task-dir",
        str(sia_tasks / "lawbench"),
        "--agent",
        str(agent),
        "--max-gen",
        "2",
        "--candidates",
        "1",
        "--quiet",
        cwd=repo,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    msg = git(repo, "log", "-1", "--format=%B", f"sia/{run_id}")
    assert "Sia-Score: " in msg and "Sia-Score-Test: " in msg and "test sealed" in msg
    audit = sia("audit", cwd=repo)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "sealed test items checked" in audit.stdout
