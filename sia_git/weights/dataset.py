"""The data behind an adapter: `training_set.jsonl` beside its weights, one line per training
row (its item id, and what it was trained on: the prompt and target, or the text and label).
It is part of the adapter's files, so it is in its address, stored with it, pushed to the hub
with it and pulled with it by commit; only train-split rows are ever in it."""

from __future__ import annotations

import json
from pathlib import Path

from sia_git.weights.job import Job

FILE = "training_set.jsonl"


def write(out: Path, job: Job, *, ids: list[str], inputs: list[str], targets: list[str]) -> None:
    keys = ("prompt", "target") if job.objective != "classification" else ("text", "label")
    with (out / FILE).open("w", encoding="utf-8") as f:
        for item, x, y in zip(ids, inputs, targets, strict=True):
            f.write(json.dumps({"id": item, keys[0]: x, keys[1]: y}, ensure_ascii=False) + "\n")


def read(folder: Path) -> list[dict[str, str]]:
    """The rows of an adapter folder's training set ([] for an adapter saved without one)."""
    path = folder / FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
