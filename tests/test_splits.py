"""Split plans: every task has a selection split and a sealed one; how a one-answer-set task is
divided, scored and refused; evaluator settings and data/task.toml merging."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from sia_git.core.errors import SiaError
from sia_git.tasks import answers, splits
from sia_git.tasks.evaluation import EvaluatorFailed, evaluate
from sia_git.tasks.task import load, resolve
from tests import siatask


def _task(tmp_path: Path, toml: str | None = None):
    root = siatask.make(tmp_path / "passengers", task_toml=toml)
    return load(root, source=str(root))


def _submit(tmp_path: Path, preds: dict[str, str]) -> Path:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    with (work / "submission.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["PassengerId", "Transported"])
        w.writerows(preds.items())
    return work


def test_the_hash_split_is_stable_salted_by_the_task_and_near_its_fraction() -> None:
    a = splits.SplitPlan("hashed", "dev", ("test",), "items", salt="passengers")
    ids = [f"{k:04d}_01" for k in range(2000)]
    sides = [a.side(i) for i in ids]
    assert sides == [a.side(i) for i in ids]  # stable
    assert 0.45 < sides.count("dev") / len(ids) < 0.55
    other = splits.SplitPlan("hashed", "dev", ("test",), "items", salt="other-task")
    assert sides != [other.side(i) for i in ids]
    quarter = splits.SplitPlan(
        "hashed", "dev", ("test",), "items", salt="passengers", dev_fraction=0.25
    )
    assert 0.2 < [quarter.side(i) for i in ids].count("dev") / len(ids) < 0.3


def test_a_sia_task_with_an_accuracy_metric_is_scored_from_item_statuses(tmp_path: Path) -> None:
    task = _task(tmp_path)
    plan = task.plan
    assert (plan.mode, plan.method, plan.select, plan.report) == (
        "hashed",
        "items",
        "dev",
        ("test",),
    )
    assert plan.sealed == frozenset({"test"}) and plan.id_field == "PassengerId"
    gold = siatask.gold(task.root)
    preds = {i: ("True" if k % 3 else "False") for k, i in enumerate(gold)}
    ev = evaluate(task, _submit(tmp_path, preds), tmp_path / "scratch")
    for side in ("dev", "test"):
        ids = [i for i in gold if plan.side(i) == side]
        expected = sum(preds[i] == gold[i] for i in ids) / len(ids)
        assert ev.score(side) == pytest.approx(expected)
    dev = ev.splits["dev"]
    assert {i["id"] for i in dev.items} == {i for i in gold if plan.side(i) == "dev"}
    assert dev.metrics["items"] == len(dev.items)
    test = ev.splits["test"]
    assert test.items == [] and test.metrics == {}
    assert ev.logs == {}  # the one evaluator run listed test items: none of its output is kept


def test_a_metric_that_is_not_a_mean_is_scored_on_narrowed_answer_files(tmp_path: Path) -> None:
    task = _task(tmp_path, '[metric]\nname = "f1"\n\n[evaluator]\nenv = {EVAL_METRIC = "f1"}\n')
    plan = task.plan
    assert (plan.mode, plan.method) == ("hashed", "narrow")
    gold = siatask.gold(task.root)
    preds = {i: ("True" if k % 4 else "False") for k, i in enumerate(gold)}
    ev = evaluate(task, _submit(tmp_path, preds), tmp_path / "scratch")
    for side in ("dev", "test"):
        ids = [i for i in gold if plan.side(i) == side]
        tp = sum(preds[i] == "True" == gold[i] for i in ids)
        fp = sum(preds[i] == "True" != gold[i] for i in ids)
        fn = sum(preds[i] != "True" == gold[i] for i in ids)
        assert ev.score(side) == pytest.approx(2 * tp / (2 * tp + fp + fn))
    # The dev run's own output is kept for the Feedback-Agent; the test run's is not.
    assert set(ev.logs) == {
        "evaluator/dev.stdout.txt",
        "evaluator/dev.stderr.txt",
        "evaluator/dev.result.json",
    }
    dev_ids = {i["id"] for i in json.loads(ev.logs["evaluator/dev.result.json"])["items"]}
    assert dev_ids == {i for i in gold if plan.side(i) == "dev"}
    assert ev.splits["test"].items == [] and ev.splits["test"].metrics == {}


def test_a_task_that_cannot_be_split_is_refused_with_what_to_declare(tmp_path: Path) -> None:
    task = _task(tmp_path, '[metric]\nname = "f1"\n')
    (task.private_dir / "test.csv").rename(task.private_dir / "test.tsv")
    with pytest.raises(SiaError) as err:
        _ = task.plan
    msg = str(err.value)
    assert "cannot be split into dev and test" in msg and "test.tsv is not CSV" in msg
    assert "[splits] id_field" in msg and "--select-on-test" in msg
    assert "data/task.toml" in msg
    chosen = task.with_plan(splits.for_new_run(task, select_on_test=True))
    assert chosen.plan.selects_on_test and chosen.plan.sealed == frozenset({"test"})
    assert "SELECTED ON THE TEST LABELS" in chosen.plan.metric_note()


def test_select_on_test_is_refused_for_a_task_with_its_own_dev_split() -> None:
    with pytest.raises(SiaError, match="only for tasks with one answer set"):
        splits.for_new_run(resolve("penguins", None), select_on_test=True)


def test_statuses_that_do_not_reproduce_the_metric_are_an_error(tmp_path: Path) -> None:
    # The metric is declared a mean over items, but the evaluator reports F1.
    task = _task(
        tmp_path,
        '[metric]\nname = "f1"\nmean_over_items = true\n\n[splits]\n'
        'method = "items"\n\n[evaluator]\nenv = {EVAL_METRIC = "f1"}\n',
    )
    gold = siatask.gold(task.root)
    preds = {i: ("True" if k % 4 else "False") for k, i in enumerate(gold)}
    with pytest.raises(EvaluatorFailed, match="do not reproduce its f1"):
        evaluate(task, _submit(tmp_path, preds), tmp_path / "scratch")


def test_a_failure_on_sealed_items_keeps_none_of_the_evaluators_output(tmp_path: Path) -> None:
    task = _task(tmp_path)
    evaluator = task.public_dir / "evaluate.py"
    evaluator.write_text("import sys\nsys.exit('item 5001_01 expected True')\n")
    with pytest.raises(EvaluatorFailed) as err:
        evaluate(task, _submit(tmp_path, {}), tmp_path / "scratch")
    assert "5001_01" not in str(err.value) and "sealed test items" in str(err.value)


def test_evaluator_settings_and_a_partial_data_task_toml_keep_every_default(tmp_path: Path) -> None:
    task = _task(
        tmp_path, '[agent]\ntimeout_s = 30\n\n[evaluator]\nargs = ["--flag"]\nenv = {A = "1"}\n'
    )
    m = task.manifest
    assert m.agent.timeout_s == 30 and m.agent.packages == []  # the default survives
    assert m.evaluator.path == "data/public/evaluate.py" and m.evaluator.env == {"A": "1"}
    assert task.evaluator_command(Path("/o"), "dev", Path("/r"))[-3:] == [
        "--gen-dir",
        "/o",
        "--flag",
    ]


def test_bad_split_settings_are_rejected_with_the_key(tmp_path: Path) -> None:
    root = siatask.make(tmp_path / "p", task_toml="[splits]\ndev_fraction = 1.5\n")
    with pytest.raises(SiaError, match=r"splits.dev_fraction"):
        load(root, source=str(root))


@pytest.mark.parametrize("kind", ["csv", "jsonl", "json-list", "json-keyed"])
def test_answer_files_narrow_by_id_in_every_format(tmp_path: Path, kind: str) -> None:
    private = tmp_path / "private"
    private.mkdir()
    rows = [{"qid": f"q{i}", "answer": str(i * 7)} for i in range(10)]
    if kind == "csv":
        (private / "a.csv").write_text(
            "qid,answer\n" + "".join(f"{r['qid']},{r['answer']}\n" for r in rows)
        )
    elif kind == "jsonl":
        (private / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif kind == "json-list":
        (private / "a.json").write_text(json.dumps(rows))
    else:
        (private / "a.json").write_text(json.dumps({r["qid"]: r["answer"] for r in rows}))
    field = answers.id_field(private, None)
    assert answers.ids(private, field) == [f"q{i}" for i in range(10)]
    kept = answers.narrow(private, tmp_path / "out", field, keep=lambda i: int(i[1:]) % 2 == 0)
    assert kept == 5
    assert answers.ids(tmp_path / "out", field) == [f"q{i}" for i in range(0, 10, 2)]


def test_an_id_column_is_guessed_or_declared() -> None:
    assert answers.guess_field(["PassengerId", "Transported"]) == "PassengerId"
    assert answers.guess_field(["ID", "label"]) == "ID"
    assert answers.guess_field(["a", "b"]) is None
    assert answers.guess_field(["UserId", "ItemId"]) is None  # ambiguous: declare it


def test_a_run_keeps_its_recorded_plan_and_old_runs_are_legacy(tmp_path: Path) -> None:
    task = _task(tmp_path, "[splits]\ndev_fraction = 0.3\n")
    plan = task.plan
    again = splits.from_record(task, {"split": plan.record()})
    assert again == plan and again.dev_fraction == 0.3
    assert splits.from_record(task, {}).mode == "legacy"  # a SIA task, run before splits
    assert splits.from_record(resolve("penguins", None), {}).mode == "declared"
    shutil.rmtree(task.root)


def test_a_task_toml_task_with_one_split_is_divided_too(tmp_path: Path) -> None:
    root = tmp_path / "penguins1"
    shutil.copytree(resolve("penguins", None).root, root)
    toml = (root / "task.toml").read_text().replace('report = ["test"]', "report = []")
    (root / "task.toml").write_text(toml)
    (root / "private" / "test.csv").unlink()
    task = load(root, source=str(root))
    assert (task.plan.mode, task.plan.method, task.splits) == ("hashed", "items", ["dev", "test"])
    work = tmp_path / "work" / "predictions"
    work.mkdir(parents=True)
    shutil.copyfile(root / "private" / "dev.csv", work / "dev.csv")
    ev = evaluate(task, tmp_path / "work", tmp_path / "scratch")
    assert ev.score("dev") == 1.0 and ev.score("test") == 1.0
    with (root / "private" / "dev.csv").open() as f:
        ids = [r["id"] for r in csv.DictReader(f)]
    assert {i["id"] for i in ev.splits["dev"].items} == {
        i for i in ids if task.plan.side(i) == "dev"
    }
