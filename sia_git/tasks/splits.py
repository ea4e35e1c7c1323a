"""Which split selection uses, and which splits are sealed (reported as one aggregate score only).

Every run has both. A task whose answer key already has a selection split and report splits
(`[splits] select`/`report` in task.toml) keeps them ("declared"). A task with one answer set
(SIA's layout, or a task.toml with no report split) is divided by sia-git ("hashed"): an item
goes to dev or test by a stable hash of the task name and its id, so the same item lands on the
same side in every run and on every machine. Each side is then scored either

- from the evaluator's per-item statuses ("items"), when the metric is the share of correct
  items (accuracy and the like: MEAN_METRICS, or `[metric] mean_over_items = true`), or
- by running the evaluator once per side on answer files narrowed to that side's ids
  ("narrow", see answers.py), for any metric.

When neither works the run is refused before generation 1, unless the user passes
`--select-on-test`, which selects on the one answer set (the test labels) and says so in every
commit's `Sia-Metric`. Runs recorded before splits existed are "legacy": they selected on the
test labels, and `log`, `show` and `report` say so.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sia_git.core.errors import SiaError
from sia_git.tasks import answers

if TYPE_CHECKING:
    from sia_git.tasks.manifest import Manifest


class Task(Protocol):
    """What the split plan reads of a task (tasks/task.py's Task has it)."""

    @property
    def name(self) -> str: ...
    @property
    def manifest(self) -> Manifest: ...
    @property
    def private_dir(self) -> Path: ...
    @property
    def root(self) -> Path: ...
    @property
    def kind(self) -> str: ...


MEAN_METRICS = frozenset(
    {
        "accuracy",
        "acc",
        "exact_match",
        "em",
        "pass_rate",
        "pass@1",
        "success_rate",
        "solve_rate",
        "correct_rate",
    }
)
CORRECT = frozenset({"correct", "pass", "passed", "ok", "solved", "success", "true", "right"})
Mode = Literal["declared", "hashed", "select-on-test", "legacy"]
Method = Literal["items", "narrow"]
LEGACY_NOTE = (
    "made before sealed test splits: its scores were selected on the task's only "
    "answer set, the test labels (nothing was rewritten; a new run selects on dev)"
)


@dataclass(frozen=True)
class SplitPlan:
    mode: Mode
    select: str
    report: tuple[str, ...] = ()
    method: Method | None = None  # hashed only: how dev and test are scored apart
    narrow_fallback: bool = False  # items, but narrow when the evaluator reports no items
    dev_fraction: float = 0.5
    salt: str = ""  # the task's name: part of the hash
    id_field: str | None = None  # the answer files' id column/key (narrow)

    @property
    def splits(self) -> tuple[str, ...]:
        return (self.select, *self.report)

    @property
    def sealed(self) -> frozenset[str]:
        """Splits whose items' results never leave the evaluator's process."""
        if self.mode in ("select-on-test", "legacy"):
            return frozenset({self.select})
        return frozenset(self.report)

    @property
    def selects_on_test(self) -> bool:
        return self.mode in ("select-on-test", "legacy")

    def side(self, item_id: str) -> str:
        """`dev` or `test` for one item of a hashed plan."""
        digest = hashlib.sha256(f"{self.salt}\0{item_id}".encode()).digest()
        return "dev" if int.from_bytes(digest[:8], "big") / 2**64 < self.dev_fraction else "test"

    def record(self) -> dict[str, Any]:
        """What run.toml keeps under [split]; from_record reads it back."""
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in asdict(self).items()
            if v is not None and v != ()
        }

    def metric_note(self) -> str:
        """How the score was selected, for `Sia-Metric`."""
        if self.mode == "hashed":
            return (
                f"split dev, test sealed; dev/test hashed by item id, "
                f"{self.dev_fraction:.0%} dev, scored by {self.method}"
            )
        if self.mode == "declared":
            return f"split {self.select}" + (
                f", {', '.join(self.report)} sealed" if self.report else ""
            )
        return f"split {self.select}, SELECTED ON THE TEST LABELS (--select-on-test)"

    def describe(self) -> str:
        """One line for the start of a run."""
        if self.mode == "hashed":
            how = (
                "from the evaluator's per-item statuses"
                if self.method == "items"
                else f"by answer files narrowed by '{self.id_field}'"
            )
            return (
                f"splits: dev {self.dev_fraction:.0%} / test {1 - self.dev_fraction:.0%} "
                f"of the answer set by item-id hash, scored {how}; test is sealed"
            )
        if self.mode == "declared":
            return f"splits: select on {self.select}, sealed {', '.join(self.report) or 'none'}"
        return "splits: SELECTING ON THE TEST LABELS (--select-on-test); no sealed test score"


def is_mean_metric(task: Task) -> bool:
    m = task.manifest.metric
    return m.mean_over_items if m.mean_over_items is not None else m.name.lower() in MEAN_METRICS


def manifest_path(task: Task) -> str:
    return str(task.root / ("data/task.toml" if task.kind == "sia" else "task.toml"))


def default_plan(task: Task) -> SplitPlan:
    """The plan a new run of `task` uses; SiaError when its one answer set cannot be split."""
    s = task.manifest.splits
    if s.report:
        return SplitPlan("declared", s.select, tuple(r for r in s.report if r != s.select))
    base = {"salt": task.name, "dev_fraction": s.dev_fraction}
    try:
        field, why_not = answers.id_field(task.private_dir, s.id_field), ""
    except answers.NotNarrowable as exc:
        field, why_not = None, str(exc)
    if s.method == "narrow" and field is None:
        raise SiaError(
            f'task {task.name}: [splits] method = "narrow" needs answer files '
            f"narrowable by item id, but {why_not}"
        )
    if s.method == "items" or (s.method == "auto" and is_mean_metric(task)):
        return SplitPlan(
            "hashed", "dev", ("test",), "items", field is not None, id_field=field, **base
        )
    if field is not None:
        return SplitPlan("hashed", "dev", ("test",), "narrow", id_field=field, **base)
    raise SiaError(
        f"task {task.name}: its one answer set cannot be split into dev and test: metric "
        f"'{task.manifest.metric.name}' is not a mean over items and {why_not}; declare "
        f"[metric] mean_over_items = true or [splits] id_field in {manifest_path(task)}, or "
        "pass --select-on-test to select on the test labels"
    )


def for_new_run(task: Task, select_on_test: bool) -> SplitPlan:
    if not select_on_test:
        return default_plan(task)
    if task.manifest.splits.report:
        raise SiaError(
            f"--select-on-test: task {task.name} has its own selection split "
            f"'{task.manifest.splits.select}'; the flag is only for tasks with one "
            "answer set"
        )
    return SplitPlan("select-on-test", "test")


def from_record(task: Task, recorded: dict[str, Any]) -> SplitPlan:
    """The plan a run recorded in its run.toml (a resume keeps it); runs from before splits
    existed get the legacy plan (or the declared one, which they used too)."""
    raw = recorded.get("split")
    if raw is None:
        s = task.manifest.splits
        if s.report:
            return SplitPlan("declared", s.select, tuple(r for r in s.report if r != s.select))
        return SplitPlan("legacy", s.select)
    try:
        plan = SplitPlan(**{**raw, "report": tuple(raw.get("report", ()))})
    except TypeError as exc:
        raise SiaError(f"run.toml [split] is not one this sia-git reads: {exc}") from None
    if plan.mode not in ("declared", "hashed", "select-on-test", "legacy"):
        raise SiaError(f"run.toml [split] mode '{plan.mode}' is unknown")
    return plan


def legacy_note(
    recorded: dict[str, Any], has_manifest_copy: bool, manifest_report: bool
) -> str | None:
    """A warning for runs that selected on the test labels, from run.toml alone: no [split]
    table, and a task with one answer set (SIA layout has no task.toml copy)."""
    if "split" in recorded or (has_manifest_copy and manifest_report):
        return None
    return f"run {recorded.get('run_id', '?')} was {LEGACY_NOTE}"
