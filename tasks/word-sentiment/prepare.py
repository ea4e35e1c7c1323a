"""Build the word-sentiment task's split from the VADER lexicon in the `vaderSentiment` package.

Each item is one English word that ten human raters scored for sentiment; the label is `positive`
when their mean rating is above zero and `negative` when below (words rated exactly 0 are
dropped). Run `python tasks/word-sentiment/prepare.py`; the output is deterministic and
tests/test_builtin_tasks.py checks it byte for byte. `vaderSentiment` (MIT licence) ships the
lexicon; it is never importable inside the agent's sandbox.
"""

from __future__ import annotations

import csv
import random
import sys
from importlib import resources
from pathlib import Path

SEED = 20261125
N_ITEMS = 3000
N_DEV = 600
N_TEST = 600


def load_items() -> list[dict[str, str]]:
    lex = resources.files("vaderSentiment").joinpath("vader_lexicon.txt")
    items = []
    for line in lex.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0].isalpha() or not parts[0].isascii():
            continue
        mean = float(parts[1])
        if mean == 0:
            continue
        items.append({"text": parts[0].lower(), "label": "positive" if mean > 0 else "negative"})
    unique = {i["text"]: i for i in items}
    return [unique[k] for k in sorted(unique)]


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: r[c] for c in columns})


def prepare(task_dir: Path) -> None:
    items = load_items()
    random.Random(SEED).shuffle(items)
    items = items[:N_ITEMS]
    for i, r in enumerate(items):
        r["id"] = f"W{i + 1:04d}"
    test, dev, train = items[:N_TEST], items[N_TEST : N_TEST + N_DEV], items[N_TEST + N_DEV :]
    public, private = task_dir / "public", task_dir / "private"
    write_csv(public / "train.csv", sorted(train, key=lambda r: r["id"]), ["id", "text", "label"])
    for name, split in (("dev", dev), ("test", test)):
        split = sorted(split, key=lambda r: r["id"])
        write_csv(public / f"{name}.csv", split, ["id", "text"])
        write_csv(private / f"{name}.csv", split, ["id", "label"])


if __name__ == "__main__":
    prepare(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
