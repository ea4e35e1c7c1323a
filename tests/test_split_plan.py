"""tasks/splits.py's plan itself, unit by unit: which metrics are means over items, which
statuses count as correct, what each mode seals, its record, the lines it prints, the hash's
boundary, and every way a plan is refused (each message pinned: they are what a user reads)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sia_git.core.errors import SiaError
from sia_git.tasks import splits
from sia_git.tasks.splits import SplitPlan


def fake_task(
    tmp_path: Path,
    *,
    metric: str = "accuracy",
    mean: bool | None = None,
    report: list[str] | None = None,
    method: str = "auto",
    id_field: str | None = None,
    answers: str | None = "id,label\na1,x\nb2,y\n",
    kind: str = "native",
) -> Any:
    private = tmp_path / "private"
    private.mkdir(exist_ok=True)
    if answers is not None:
        (private / "labels.csv").write_text(answers)
    manifest = SimpleNamespace(
        metric=SimpleNamespace(name=metric, mean_over_items=mean),
        splits=SimpleNamespace(select="dev", report=report or [], dev_fraction=0.5,
                               method=method, id_field=id_field),
    )  # fmt: skip
    return SimpleNamespace(name="t", manifest=manifest, private_dir=private, root=tmp_path,
                           kind=kind)  # fmt: skip


@pytest.mark.parametrize("name", sorted(splits.MEAN_METRICS) + ["Accuracy", "EM"])
def test_these_metrics_are_means_over_items(tmp_path: Path, name: str) -> None:
    assert splits.is_mean_metric(fake_task(tmp_path, metric=name))


def test_other_metrics_are_not_unless_declared(tmp_path: Path) -> None:
    assert not splits.is_mean_metric(fake_task(tmp_path, metric="f1"))
    assert splits.is_mean_metric(fake_task(tmp_path, metric="f1", mean=True))
    assert not splits.is_mean_metric(fake_task(tmp_path, metric="accuracy", mean=False))


def test_the_correct_statuses() -> None:
    assert {"correct", "pass", "passed", "ok", "solved", "success", "true", "right"} == (
        splits.CORRECT
    )


def test_what_each_mode_seals_and_whether_it_selects_on_test() -> None:
    declared = SplitPlan("declared", "dev", ("test", "hard"))
    assert declared.splits == ("dev", "test", "hard")
    assert declared.sealed == frozenset({"test", "hard"}) and not declared.selects_on_test
    for mode in ("select-on-test", "legacy"):
        p = SplitPlan(mode, "test")  # type: ignore[arg-type]
        assert p.sealed == frozenset({"test"}) and p.selects_on_test
    hashed = SplitPlan("hashed", "dev", ("test",), "items")
    assert hashed.sealed == frozenset({"test"}) and not hashed.selects_on_test


def test_the_hash_boundary_is_strict() -> None:
    """An item is dev when its hash falls below the fraction: none at 0, all at 1."""
    ids = [str(i) for i in range(300)]
    none = SplitPlan("hashed", "dev", ("test",), dev_fraction=0.0, salt="s")
    every = SplitPlan("hashed", "dev", ("test",), dev_fraction=1.0, salt="s")
    assert {none.side(i) for i in ids} == {"test"} and {every.side(i) for i in ids} == {"dev"}
    salted = SplitPlan("hashed", "dev", ("test",), salt="s")
    other = SplitPlan("hashed", "dev", ("test",), salt="s\0")
    assert [salted.side(i) for i in ids] != [other.side(i) for i in ids]


def test_the_record_keeps_what_is_set_and_reads_back() -> None:
    p = SplitPlan("hashed", "dev", ("test",), "narrow", id_field="id", salt="t")
    rec = p.record()
    assert rec == {"mode": "hashed", "select": "dev", "report": ["test"], "method": "narrow",
                   "narrow_fallback": False, "dev_fraction": 0.5, "salt": "t",
                   "id_field": "id"}  # fmt: skip
    assert SplitPlan("legacy", "test").record() == {
        "mode": "legacy", "select": "test", "narrow_fallback": False, "dev_fraction": 0.5,
        "salt": "",
    }  # fmt: skip
    assert splits.from_record(SimpleNamespace(), {"split": rec}) == p


def test_the_lines_a_plan_prints() -> None:
    items = SplitPlan("hashed", "dev", ("test",), "items", dev_fraction=0.25)
    assert items.metric_note() == (
        "split dev, test sealed; dev/test hashed by item id, 25% dev, scored by items"
    )
    assert items.describe() == (
        "splits: dev 25% / test 75% of the answer set by item-id hash, scored from the "
        "evaluator's per-item statuses; test is sealed"
    )
    narrow = SplitPlan("hashed", "dev", ("test",), "narrow", id_field="qid")
    assert narrow.describe() == (
        "splits: dev 50% / test 50% of the answer set by item-id hash, scored by answer "
        "files narrowed by 'qid'; test is sealed"
    )
    declared = SplitPlan("declared", "dev", ("test", "hard"))
    assert declared.metric_note() == "split dev, test, hard sealed"
    assert declared.describe() == "splits: select on dev, sealed test, hard"
    alone = SplitPlan("declared", "dev")
    assert alone.metric_note() == "split dev" and alone.describe() == (
        "splits: select on dev, sealed none"
    )
    on_test = SplitPlan("select-on-test", "test")
    assert on_test.metric_note() == "split test, SELECTED ON THE TEST LABELS (--select-on-test)"
    assert on_test.describe() == (
        "splits: SELECTING ON THE TEST LABELS (--select-on-test); no sealed test score"
    )


def test_where_a_tasks_manifest_is(tmp_path: Path) -> None:
    assert splits.manifest_path(fake_task(tmp_path)) == str(tmp_path / "task.toml")
    assert splits.manifest_path(fake_task(tmp_path, kind="sia")) == str(tmp_path / "data/task.toml")


def test_default_plans(tmp_path: Path) -> None:
    declared = splits.default_plan(fake_task(tmp_path, report=["dev", "test"]))
    assert (declared.mode, declared.select, declared.report) == ("declared", "dev", ("test",))
    items = splits.default_plan(fake_task(tmp_path))
    assert (items.mode, items.method, items.id_field, items.narrow_fallback) == (
        "hashed", "items", "id", True,
    )  # fmt: skip
    assert items.salt == "t" and items.dev_fraction == 0.5 and items.report == ("test",)
    narrow = splits.default_plan(fake_task(tmp_path, metric="f1"))
    assert (narrow.method, narrow.id_field, narrow.narrow_fallback) == ("narrow", "id", False)
    forced = splits.default_plan(fake_task(tmp_path, metric="f1", method="items"))
    assert forced.method == "items"


def test_a_task_that_cannot_be_split_is_refused_saying_what_to_declare(tmp_path: Path) -> None:
    task = fake_task(tmp_path, metric="f1", answers="no id here,label\nx,y\n")
    with pytest.raises(SiaError) as err:
        splits.default_plan(task)
    assert str(err.value) == (
        "task t: its one answer set cannot be split into dev and test: metric 'f1' is not a "
        "mean over items and labels.csv has no id column or key among ['no id here', 'label']; "
        f"declare [metric] mean_over_items = true or [splits] id_field in {tmp_path}/task.toml, "
        "or pass --select-on-test to select on the test labels"
    )
    items_anyway = splits.default_plan(fake_task(tmp_path, answers="x,label\n1,2\n"))
    assert items_anyway.method == "items" and not items_anyway.narrow_fallback
    with pytest.raises(SiaError, match=r'^task t: \[splits\] method = "narrow" needs answer '
                       r"files narrowable by item id, but labels.csv has no id"):  # fmt: skip
        splits.default_plan(fake_task(tmp_path, method="narrow", answers="x,label\n1,2\n"))


def test_select_on_test_is_only_for_one_answer_set(tmp_path: Path) -> None:
    assert splits.for_new_run(fake_task(tmp_path), True) == SplitPlan("select-on-test", "test")
    assert splits.for_new_run(fake_task(tmp_path), False).mode == "hashed"
    with pytest.raises(SiaError) as err:
        splits.for_new_run(fake_task(tmp_path, report=["test"]), True)
    assert str(err.value) == (
        "--select-on-test: task t has its own selection split 'dev'; the flag is only for "
        "tasks with one answer set"
    )


def test_runs_from_before_splits_read_as_legacy_or_declared(tmp_path: Path) -> None:
    assert splits.from_record(fake_task(tmp_path), {}) == SplitPlan("legacy", "dev")
    declared = splits.from_record(fake_task(tmp_path, report=["dev", "test"]), {})
    assert declared == SplitPlan("declared", "dev", ("test",))


def test_a_record_this_sia_git_cannot_read_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SiaError, match=r"^run.toml \[split\] is not one this sia-git reads: "):
        splits.from_record(fake_task(tmp_path), {"split": {"mode": "hashed", "select": "dev",
                                                           "colour": "red"}})  # fmt: skip
    with pytest.raises(SiaError, match=r"^run.toml \[split\] mode 'random' is unknown$"):
        splits.from_record(fake_task(tmp_path), {"split": {"mode": "random", "select": "dev"}})


def test_the_legacy_note() -> None:
    note = splits.legacy_note({"run_id": "r1"}, has_manifest_copy=False, manifest_report=False)
    assert note == f"run r1 was {splits.LEGACY_NOTE}"
    assert splits.LEGACY_NOTE.startswith("made before sealed test splits: its scores were "
                                         "selected on the task's only answer set")  # fmt: skip
    assert splits.legacy_note({}, has_manifest_copy=False, manifest_report=False) == (
        f"run ? was {splits.LEGACY_NOTE}"
    )
    assert splits.legacy_note({"split": {}}, has_manifest_copy=False, manifest_report=False) is None
    assert splits.legacy_note({}, has_manifest_copy=True, manifest_report=True) is None
    assert splits.legacy_note({}, has_manifest_copy=True, manifest_report=False) is not None
    assert splits.legacy_note({}, has_manifest_copy=False, manifest_report=True) is not None


def test_the_hash_is_a_contract_pinned_here() -> None:
    """The same item lands on the same side on every machine and in every release: runs that
    are resumed or audited later rely on it."""
    plan = SplitPlan("hashed", "dev", ("test",), salt="passengers")
    got = "".join("d" if plan.side(f"{k:04d}_01") == "dev" else "t" for k in range(24))
    assert got == PINNED


PINNED = "dttddtdtddttttdtttttddtt"  # computed once, when the hash was chosen


def test_a_plan_is_a_value_and_every_mode_reads_back(tmp_path: Path) -> None:
    import dataclasses

    plan = SplitPlan("declared", "dev")
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.select = "test"  # type: ignore[misc]
    for mode in ("declared", "select-on-test", "legacy", "hashed"):
        rec = {"split": {"mode": mode, "select": "dev"}}
        assert splits.from_record(fake_task(tmp_path), rec).mode == mode
    narrow = splits.default_plan(fake_task(tmp_path, metric="f1"))
    assert narrow.select == "dev"
