"""Template reference agent: k-nearest neighbours, standard library only.

Contract: python target_agent.py --dataset_dir DIR --working_dir DIR
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

# Knobs the offline search may tune: KNOB_SPACE gives each one's allowed values (a list, or a
# {"low", "high", "type", "log"} range).
# One knob per line, a blank line between: git merges changes to different knobs.
KNOBS = {
    "k": 1,

    "weighting": "uniform",
}  # fmt: skip
KNOB_SPACE = {
    "k": {"low": 1, "high": 25, "type": "int"},
    "weighting": ["uniform", "distance"],
}


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def predict(train: list[dict[str, str]], x: float, y: float) -> str:
    dist = sorted(((float(r["x"]) - x) ** 2 + (float(r["y"]) - y) ** 2, r["label"]) for r in train)
    votes: dict[str, float] = {}
    for d, label in dist[: KNOBS["k"]]:
        weight = 1.0 if KNOBS["weighting"] == "uniform" else 1.0 / (d + 1e-9)
        votes[label] = votes.get(label, 0.0) + weight
    return max(votes, key=votes.__getitem__)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset_dir", type=Path, required=True)
    parser.add_argument("--working_dir", type=Path, required=True)
    args = parser.parse_args()
    train = read(args.dataset_dir / "train.csv")
    out = args.working_dir / "predictions"
    out.mkdir(parents=True, exist_ok=True)
    for split in ("dev", "test"):
        rows = read(args.dataset_dir / f"{split}.csv")
        with (out / f"{split}.csv").open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "label"])
            w.writerows([r["id"], predict(train, float(r["x"]), float(r["y"]))] for r in rows)
    (args.working_dir / "trace.jsonl").write_text(json.dumps({"knobs": KNOBS}) + "\n")


if __name__ == "__main__":
    main()
