"""Staged evaluation: a candidate is scored on a fixed sample of dev items first, and on the
whole of dev only if it can still beat the incumbent.

The sample is drawn once per run (seeded by the run's seed) from the dev items the incumbent was
scored on, stratified by whether the incumbent was right on them. Its inputs are the run's staged
public inputs with every CSV row of an answer-set item outside the sample removed (other rows, such
as training data, stay), so the agent does the sample's work only. A task whose public files have
no such rows can't be staged and is scored whole, as is a dev split too small for a sample of
`MIN_SAMPLE` items, and a run whose generation 1 took under `MIN_RUN_S` (its candidates are
cheap to score whole).

A staged candidate goes on (`advancing`) only when, on the sample, a one-sided 90% upper bound of
its paired gain over the incumbent is above zero (it is not clearly worse); and of those, at most
half of the generation's staged candidates, but always two (the largest sample gains first):
successive halving. The others keep their sample score, marked with the stage they reached; they
are never accepted, and never reused as a whole-dev result.
"""

from __future__ import annotations

import csv
import math
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from sia_git.evolve.outcome import Outcome
from sia_git.store import evidence
from sia_git.tasks import answers
from sia_git.tasks.evaluation import Evaluation, SplitScore
from sia_git.tasks.splits import CORRECT
from sia_git.tasks.task import Task

MIN_SAMPLE = 20
# A run shorter than this is mostly its fixed cost (the sandbox, the interpreter, its imports,
# the evaluator: 0.2-0.5 s here), which a sample does not shrink and a candidate that goes on
# pays twice: measured on penguins (0.2 s a run), staging scored 0.81x the candidates per
# hour of scoring whole (docs/BENCHMARKS.md).
MIN_RUN_S = 2.0
KEPT_ROWS = 5  # of a file with no sample item (see `cut`)
Z90 = 1.2815515655446004


@dataclass(frozen=True)
class Stage:
    sample: frozenset[str]  # the dev item ids of the first stage
    dataset: Path  # the public inputs cut to the sample
    n_dev: int

    def label(self) -> str:
        return f"sample {len(self.sample)} of {self.n_dev}"


def prepare(
    task: Task, dataset: Path, dest: Path, *, dev: dict[str, bool], fraction: float, seed: int
) -> Stage | None:
    """The run's first stage, or None when the task can't be staged (see the module's doc).
    `dev`: the incumbent's result on each dev item; the sample holds its right and wrong items
    in the same shares as the whole (stratified), so that fixing its mistakes shows there."""
    size = math.ceil(len(dev) * fraction)
    if fraction <= 0 or size < MIN_SAMPLE or size >= len(dev):
        return None
    rng = random.Random(seed)
    wrong = sorted(i for i, right in dev.items() if not right)
    right = sorted(i for i, ok in dev.items() if ok)
    n_wrong = round(size * len(wrong) / len(dev))
    sample = frozenset(rng.sample(wrong, n_wrong) + rng.sample(right, size - n_wrong))
    if not cut_copy(task, dataset, dest, keep=sample, share=fraction):
        return None
    return Stage(sample, dest, len(dev))


def dev_only(task: Task, dataset: Path, dest: Path, *, dev: set[str]) -> Path | None:
    """The public inputs with the sealed splits' rows cut (as `prepare` cuts): what a
    candidate is scored on, so that it does not pay for a sealed score it will not get
    (only a committed generation's is released: `sealed_run`). None when the task's inputs
    have no such rows, or its sealed splits' inputs can't be told apart."""
    if not task.plan.sealed - {task.select} or not dev:
        return None
    return dest if cut_copy(task, dataset, dest, keep=frozenset(dev), share=1.0) else None


def cut_copy(task: Task, dataset: Path, dest: Path, *, keep: frozenset[str], share: float) -> bool:
    """Copy `dataset` to `dest` with the rows of every answer-set item outside `keep` cut;
    False (and no `dest`) when the task's answers can't be read by id or nothing was cut."""
    try:
        field = answers.id_field(task.private_dir, task.manifest.splits.id_field)
        every = set(answers.ids(task.private_dir, field))
    except (answers.NotNarrowable, OSError, ValueError):
        return False
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(dataset, dest, symlinks=True)
    if not cut(dest, drop=every - keep, field=field, share=share):
        shutil.rmtree(dest)
        return False
    return True


def cut(folder: Path, *, drop: set[str], field: str, share: float) -> bool:
    """Remove the rows of `drop`'s items from every CSV under `folder` with an id column
    `field`; True when any row went. A file that would lose all its rows (a sealed split's
    inputs) keeps its first few instead (`share` of them, at most `KEPT_ROWS`): agents expect
    every input file to have rows, and the results for them are dropped (`on_sample`)."""
    removed = False
    for path in sorted(folder.rglob("*.csv")):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open(encoding="utf-8", newline="", errors="strict") as f:
            try:
                rows = list(csv.reader(f))
            except (csv.Error, UnicodeDecodeError):
                continue
        if not rows or field not in rows[0]:
            continue
        col = rows[0].index(field)
        kept = [rows[0]] + [r for r in rows[1:] if len(r) <= col or r[col] not in drop]
        if len(kept) == 1 and len(rows) > 1:
            kept += rows[1 : 1 + min(KEPT_ROWS, max(1, math.ceil((len(rows) - 1) * share)))]
        if len(kept) == len(rows):
            continue
        removed = True
        with path.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(kept)
    return removed


def on_dev_only(o: Outcome) -> None:
    """A candidate scored on the dev-only inputs: its sealed scores (of a few kept rows) mean
    nothing; if it is committed, `sealed_run` gives it real ones."""
    o.withheld = {}
    o.sealed_pending = o.ok


def on_sample(o: Outcome, stage: Stage, select: str) -> None:
    """Keep only the sample's items of a staged outcome's selection score (its score is the
    share right among them); sealed scores of a staged run mean nothing and are dropped."""
    ev = o.evaluation
    if ev is None or select not in ev.splits:
        return
    items = [i for i in ev.splits[select].items if str(i.get("id")) in stage.sample]
    right = sum(i.get("status") in CORRECT for i in items)
    score = right / len(items) if items else 0.0
    metrics = {"stage": stage.label(), "correct": right, "total": len(items)}
    o.evaluation = Evaluation(
        {select: SplitScore(score, metrics, items)}, ev.dropped, ev.logs, ev.where
    )
    o.withheld = {}
    o.stage = stage.label()


def advancing(
    staged: list[Outcome], incumbent: dict[str, bool], select: str
) -> dict[int, str | None]:
    """For each staged outcome, None when it goes on to the whole of dev, else why not."""
    gains: dict[int, float] = {}
    why: dict[int, str | None] = {}
    for o in staged:
        split = o.evaluation.splits.get(select) if o.ok and o.evaluation else None
        if split is None:
            why[o.index] = None if not o.ok else "no score on the sample"
            continue
        ev = evidence.paired(incumbent, [evidence.statuses(split.items)], lvl=None)
        if ev is None:
            why[o.index] = f"pruned at the {o.stage}: none of its items were scored"
            continue
        low, high = ev.gain, ev.gain + Z90 * _se(ev)
        if high <= 0:
            why[o.index] = (
                f"pruned at the {o.stage}: gain {low:+.4f}, upper bound {high:+.4f} is not "
                "above the incumbent"
            )
            continue
        gains[o.index] = ev.gain
        why[o.index] = None
    # Two always may: a 20-item sample ranks two close candidates by chance, and halving a
    # pair would drop one of them on it (a generation of two is the default).
    keep = max(2, math.ceil(len(staged) / 2))
    for rank, index in enumerate(sorted(gains, key=lambda i: (-gains[i], i))):
        if rank >= keep:
            why[index] = (
                f"pruned at the {_stage_of(staged, index)}: {keep} better staged "
                "candidate(s) went on (successive halving)"
            )
    return why


def _stage_of(staged: list[Outcome], index: int) -> str:
    return next(o.stage for o in staged if o.index == index)


def _se(ev: evidence.Evidence) -> float:
    """The paired gain's standard error, with one more disagreement than seen: a candidate
    that agrees with the incumbent on every sample item is not known to be no better."""
    d = ev.gain
    return math.sqrt(max(((ev.wins + ev.losses + 1) / ev.n - d * d) / ev.n, 0.0))
