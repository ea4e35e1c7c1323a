"""Score an agent's outputs with the task's trusted evaluator, outside the sandbox.

The agent's working dir is copied first, keeping regular files only: a `results.json` the agent
wrote, and any symlink (which could point the evaluator at the answer key), never reach it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sia_git.task import Task

MAX_COPY_BYTES = 256 * 1024 * 1024


class EvaluatorFailed(Exception):
    """The evaluator crashed, hung, or printed something that is not a result."""


@dataclass
class SplitScore:
    score: float
    metrics: dict[str, float | int | str] = field(default_factory=dict)
    items: list[dict[str, str]] = field(default_factory=list)  # id + status, never the answer


@dataclass
class Evaluation:
    splits: dict[str, SplitScore]
    dropped: list[str]  # what the agent wrote that the evaluator was not shown

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
    """Run the evaluator on every split the task scores; raise EvaluatorFailed on its failure."""
    outputs = scratch / "eval-input"
    dropped = copy_outputs(work, outputs)
    splits: dict[str, SplitScore] = {}
    if task.kind == "sia":
        _run(task, task.evaluator_command(outputs, task.splits[0], outputs / "results.json"))
        splits[task.splits[0]] = _parse_sia(task, outputs / "results.json")
    else:
        for split in task.splits:
            result = scratch / f"result-{split}.json"
            _run(task, task.evaluator_command(outputs, split, result))
            splits[split] = _parse_native(result)
    return Evaluation(splits, dropped)


def _run(task: Task, argv: list[str]) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
           "HOME": str(task.root), "PYTHONDONTWRITEBYTECODE": "1"}
    timeout = task.manifest.evaluator.timeout_s
    try:
        done = subprocess.run(argv, cwd=task.root, env=env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise EvaluatorFailed(f"evaluator {task.evaluator} timed out after {timeout:g}s") from None
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise EvaluatorFailed(f"evaluator {task.evaluator} failed "
                              f"(exit {done.returncode}): {last[:300]}")


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
    return [{"id": str(i.get("id", "")), "status": str(i.get("status", "")).lower()}
            for i in raw if isinstance(i, dict)]


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
