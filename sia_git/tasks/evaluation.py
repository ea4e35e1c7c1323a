"""Score an agent's outputs with the task's trusted evaluator, outside the sandbox.

The agent's working dir is copied first, keeping regular files only: a `results.json` the agent
wrote, and any symlink (which could point the evaluator at the answer key), never reach it.

Splits follow the task's plan (splits.py). A sealed split's result is its aggregate score only:
its items' statuses, its metrics and the evaluator's own output stay in this process. The
selection split keeps all three (they are what the Feedback-Agent learns from).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sia_git.core import tmpfiles
from sia_git.tasks import answers, evalserver, goldfree
from sia_git.tasks.splits import CORRECT, SplitPlan
from sia_git.tasks.splits import manifest_path as splits_manifest
from sia_git.tasks.task import Task

MAX_COPY_BYTES = 256 * 1024 * 1024
LOG_BYTES = 64 * 1024  # of the evaluator's own output on the selection split, kept as a trace
TOLERANCE = 5e-4  # between the evaluator's aggregate and the share of correct items


class EvaluatorFailed(Exception):
    """The evaluator crashed, hung, or printed something that is not a result."""


@dataclass
class SplitScore:
    score: float
    metrics: dict[str, float | int | str] = field(default_factory=dict)
    items: list[dict[str, str]] = field(default_factory=list)  # id + status, never the answer
    n_items: int | None = None  # a sealed split's size (its release grid), when known


@dataclass
class Evaluation:
    splits: dict[str, SplitScore]
    dropped: list[str]  # what the agent wrote that the evaluator was not shown
    # The evaluator's stdout, stderr and result file for unsealed splits (trace name -> bytes)
    logs: dict[str, bytes] = field(default_factory=dict)
    where: str = ""  # where the evaluator ran: "" here, else a trusted Ray node

    def score(self, split: str) -> float | None:
        s = self.splits.get(split)
        return s.score if s else None


def copy_outputs(work: Path, dest: Path) -> list[str]:
    """Copy the agent's regular files to dest; return what was left out and why."""
    dropped, total = [], 0
    for dirpath, dirnames, filenames in os.walk(work, followlinks=False):
        rel = Path(dirpath).relative_to(work)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for name in dirnames + filenames:
            src = Path(dirpath) / name
            if src.is_symlink():
                dropped.append(f"{rel / name} (symlink)")
        for name in filenames:
            src = Path(dirpath) / name
            if src.is_symlink() or not src.is_file():
                continue
            if name == "results.json":
                dropped.append(f"{rel / name} (agent-written results are never trusted)")
                continue
            total += src.stat().st_size
            if total > MAX_COPY_BYTES:
                dropped.append(f"{rel / name} (outputs over {MAX_COPY_BYTES >> 20} MiB)")
                continue
            shutil.copyfile(src, dest / rel / name, follow_symlinks=False)
    return dropped


def evaluate(task: Task, work: Path, scratch: Path) -> Evaluation:
    """Run the evaluator on every split the task's plan scores; raise EvaluatorFailed on its
    failure."""
    outputs = scratch / "eval-input"
    dropped = copy_outputs(work, outputs)
    plan = task.plan
    ev = Evaluation({}, dropped)
    if plan.mode == "hashed":
        ev.splits = _hashed(task, plan, outputs, scratch=scratch, logs=ev.logs)
    elif plan.mode == "declared":
        # Each split in its own evaluator process, all at once: a candidate's score is on the
        # loop's critical path, and the runs share nothing but the read-only outputs.
        from concurrent.futures import ThreadPoolExecutor

        def one(split: str) -> SplitScore:
            return _score(
                task,
                split,
                split,
                outputs=outputs,
                scratch=scratch,
                sealed=split in plan.sealed,
                logs=ev.logs,
            )

        with ThreadPoolExecutor(max_workers=len(plan.splits)) as pool:
            scores = list(pool.map(one, plan.splits))
        ev.splits = dict(zip(plan.splits, scores, strict=True))
    else:  # select-on-test, legacy: the task's one answer set, under the plan's name
        ev.splits[plan.select] = _score(
            task,
            plan.select,
            task.manifest.splits.select,
            outputs=outputs,
            scratch=scratch,
            sealed=True,
            logs=ev.logs,
        )
    return ev


def sealed_score(score: float, n_items: int | None = None) -> SplitScore:
    return SplitScore(score, n_items=n_items or None)


def _score(
    task: Task,
    name: str,
    ev_split: str,
    *,
    outputs: Path,
    scratch: Path,
    sealed: bool,
    logs: dict[str, bytes],
    root: Path | None = None,
) -> SplitScore:
    """One evaluator run scored as split `name` (`ev_split` is the task's own split name).
    `root`: a copy of the task whose answer files were narrowed to this split."""
    raw = _evaluate_once(
        task, name, ev_split, outputs=outputs, scratch=scratch, sealed=sealed, logs=logs, root=root
    )
    return sealed_score(raw.score, len(raw.items)) if sealed else raw


def _evaluate_once(
    task: Task,
    name: str,
    ev_split: str,
    *,
    outputs: Path,
    scratch: Path,
    sealed: bool,
    logs: dict[str, bytes],
    root: Path | None,
) -> SplitScore:
    gen = scratch / f"gen-{name}"  # SIA evaluators write results.json into the outputs folder
    shutil.copytree(outputs, gen, copy_function=os.link)
    result = gen / "results.json" if task.kind == "sia" else scratch / f"result-{name}.json"
    answers_dir = (root / task.private_dir.relative_to(task.root)) if root else None
    argv = task.evaluator_command(gen, ev_split, result, root=root, answers=answers_dir)
    done = _run(task, argv, root or task.root, sealed=sealed)
    parsed = _parse_sia(task, result) if task.kind == "sia" else _parse_native(result)
    if not sealed:
        # Kept for people and read as traces: never with an item's answer in it.
        golds = goldfree.gold(answers_dir or task.private_dir, task.plan.id_field)
        scrub = goldfree.scrub_text
        logs[f"evaluator/{name}.stdout.txt"] = scrub(done.stdout, golds).encode()[:LOG_BYTES]
        logs[f"evaluator/{name}.stderr.txt"] = scrub(done.stderr, golds).encode()[:LOG_BYTES]
        kept = goldfree.scrub_json(result.read_bytes(), golds)
        logs[f"evaluator/{name}.result.json"] = kept[:LOG_BYTES]
    return parsed


def _hashed(
    task: Task, plan: SplitPlan, outputs: Path, *, scratch: Path, logs: dict[str, bytes]
) -> dict[str, SplitScore]:
    if plan.method == "items":
        whole = _evaluate_once(
            task,
            "all",
            task.manifest.splits.select,
            outputs=outputs,
            scratch=scratch,
            sealed=True,
            logs=logs,
            root=None,
        )
        if whole.items:
            return _by_items(task, plan, whole)
        if not plan.narrow_fallback:
            raise EvaluatorFailed(
                "the evaluator reported no per-item statuses (items: [{id, status}]), so dev "
                "and test cannot be scored apart; declare [splits] id_field so sia-git can "
                "narrow the answer files, or pass --select-on-test"
            )
    out = {}
    for side in ("dev", "test"):
        root = _narrowed_task(task, plan, side, dest=scratch / f"task-{side}")
        out[side] = _score(
            task,
            side,
            task.manifest.splits.select,
            outputs=outputs,
            scratch=scratch,
            sealed=side in plan.sealed,
            logs=logs,
            root=root,
        )
    return out


def _by_items(task: Task, plan: SplitPlan, whole: SplitScore) -> dict[str, SplitScore]:
    """Dev and test scores as shares of correct items, checked against the evaluator's own
    aggregate (a metric that is not such a share would be silently misreported)."""
    good = [i["status"] in CORRECT for i in whole.items]
    share = sum(good) / len(good)
    complement = abs(whole.score - (1 - share)) <= TOLERANCE < abs(whole.score - share)
    if not complement and abs(whole.score - share) > TOLERANCE:
        raise EvaluatorFailed(
            f"the evaluator's per-item statuses do not reproduce its "
            f"{task.manifest.metric.name} ({share:.4f} of items correct, it reported "
            f'{whole.score:.4f}); set [splits] method = "narrow" (with an id_field) or '
            "[metric] mean_over_items = false"
        )
    sides: dict[str, list[dict[str, str]]] = {"dev": [], "test": []}
    for item in whole.items:
        sides[plan.side(item["id"])].append(item)
    if not sides["dev"] or not sides["test"]:
        raise EvaluatorFailed(
            f"the hash split left no {'dev' if not sides['dev'] else 'test'} "
            f"items among the evaluator's {len(whole.items)}"
        )

    def share_of(items: list[dict[str, str]]) -> float:
        s = sum(i["status"] in CORRECT for i in items) / len(items)
        return 1 - s if complement else s

    counts: dict[str, float | int | str] = {"items": len(sides["dev"])}
    for item in sides["dev"]:
        counts[item["status"]] = int(counts.get(item["status"], 0)) + 1
    return {
        "dev": SplitScore(share_of(sides["dev"]), counts, sides["dev"]),
        "test": sealed_score(share_of(sides["test"]), len(sides["test"])),
    }


def _narrowed_task(task: Task, plan: SplitPlan, side: str, *, dest: Path) -> Path:
    """A copy of the task root for one side: its answer files narrowed to that side's items,
    the evaluator copied (it finds the answers relative to its own path), the rest linked."""
    private = task.private_dir.relative_to(task.root)
    evaluator = (
        task.evaluator.relative_to(task.root) if task.evaluator.is_relative_to(task.root) else None
    )
    special = {private, *([evaluator] if evaluator else [])}

    def build(src: Path, dst: Path, rel: Path) -> None:
        dst.mkdir(parents=True, exist_ok=True)
        for entry in src.iterdir():
            r = rel / entry.name
            if r == private:
                answers.narrow(
                    entry, dst / entry.name, str(plan.id_field), keep=lambda i: plan.side(i) == side
                )
            elif r == evaluator:
                shutil.copyfile(entry, dst / entry.name)
            elif any(s.is_relative_to(r) for s in special) and entry.is_dir():
                build(entry, dst / entry.name, r)
            else:
                (dst / entry.name).symlink_to(entry)

    try:
        build(task.root, dest, Path("."))
    except (answers.NotNarrowable, OSError, ValueError) as exc:
        raise EvaluatorFailed(
            f"could not narrow the answer files to the {side} split: {exc}"
        ) from None
    return dest


def _run(task: Task, argv: list[str], cwd: Path, *, sealed: bool) -> evalserver.Finished:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(task.root),
        "PYTHONDONTWRITEBYTECODE": "1",
        "TMPDIR": str(tmpfiles.own()),
        **task.manifest.evaluator.env,
    }
    timeout, memory = task.manifest.evaluator.timeout_s, task.manifest.evaluator.memory_mb
    try:
        done = evalserver.POOL.run(argv, cwd, env, timeout=timeout, memory_mb=memory)
    except evalserver.TimedOut:
        raise EvaluatorFailed(f"evaluator {task.evaluator} timed out after {timeout:g}s") from None
    except OSError as exc:
        raise EvaluatorFailed(f"evaluator {task.evaluator} could not run: {exc}") from None
    if done.returncode == evalserver.OUT_OF_MEMORY or done.returncode in (-9, -11):
        raise EvaluatorFailed(
            f"evaluator {task.evaluator} ran out of memory scoring these outputs (its limit is "
            f"{memory} MB: [evaluator] memory_mb in {splits_manifest(task)})"
        )
    if done.returncode != 0:
        if sealed:  # its output may name sealed test items
            raise EvaluatorFailed(
                f"evaluator {task.evaluator} failed (exit {done.returncode}) "
                "on sealed test items; its output is not kept"
            )
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise EvaluatorFailed(
            f"evaluator {task.evaluator} failed (exit {done.returncode}): {last[:300]}"
        )
    return done


def _load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvaluatorFailed(f"evaluator wrote no result file {path.name}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EvaluatorFailed(f"evaluator result {path.name} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise EvaluatorFailed(f"evaluator result {path.name} is not a JSON object")
    return data


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EvaluatorFailed(f"evaluator result has no finite number for {what}: {value!r}")
    return float(value)


def _items(raw: object) -> list[dict[str, str]]:
    if not isinstance(raw, list):
        return []
    return [
        {"id": str(i.get("id", "")), "status": str(i.get("status", "")).lower()}
        for i in raw
        if isinstance(i, dict)
    ]


def _parse_native(path: Path) -> SplitScore:
    data = _load(path)
    metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
    return SplitScore(_number(data.get("score"), "score"), metrics, _items(data.get("items")))


def _parse_sia(task: Task, path: Path) -> SplitScore:
    data = _load(path)
    summary = data.get("summary") if isinstance(data.get("summary"), dict) else data
    metric = task.manifest.metric.name
    scalars = {k: v for k, v in summary.items() if isinstance(v, int | float | str)}
    return SplitScore(_number(summary.get(metric), metric), scalars, _items(data.get("items")))
