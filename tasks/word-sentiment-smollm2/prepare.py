"""Build the word-sentiment-smollm2 task from the word-sentiment task's split (VADER lexicon
ratings, MIT licence): 150 dev and 150 test items, each split half positive and half negative
(so always answering one label scores 0.5), and 400 balanced training items. The items keep
their word-sentiment ids; dev and test words never appear in train.

Run `python tasks/word-sentiment-smollm2/prepare.py`; the output is deterministic and
tests/test_builtin_tasks.py checks it byte for byte.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "word-sentiment"
PER_LABEL = {"dev": 75, "test": 75, "train": 200}


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def labelled(split: str) -> list[dict[str, str]]:
    if split == "train":
        return read(SOURCE / "public" / "train.csv")
    labels = {r["id"]: r["label"] for r in read(SOURCE / "private" / f"{split}.csv")}
    return [{**r, "label": labels[r["id"]]} for r in read(SOURCE / "public" / f"{split}.csv")]


def balanced(rows: list[dict[str, str]], n: int) -> list[dict[str, str]]:
    """The first `n` of each label, in id order."""
    out = []
    for label in ("negative", "positive"):
        out += [r for r in rows if r["label"] == label][:n]
    return sorted(out, key=lambda r: r["id"])


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: r[c] for c in columns})


def prepare(task_dir: Path) -> None:
    public, private = task_dir / "public", task_dir / "private"
    for split, n in PER_LABEL.items():
        rows = balanced(labelled(split), n)
        if split == "train":
            write_csv(public / "train.csv", rows, ["id", "text", "label"])
        else:
            write_csv(public / f"{split}.csv", rows, ["id", "text"])
            write_csv(private / f"{split}.csv", rows, ["id", "label"])


if __name__ == "__main__":
    prepare(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
