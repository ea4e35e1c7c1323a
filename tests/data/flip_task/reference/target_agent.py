"""Reference agent of the flip fixture: `neg` for every item, the first `dev_right` hints of
hints.csv answered from them, and the answer of sealed item number `flip` flipped (the sealed
items in items.csv order; an item is sealed by sia-git's public rule, a hash of its id).

Contract: python target_agent.py --dataset_dir DIR --working_dir DIR
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
from pathlib import Path

KNOBS = {"dev_right": 0, "flip": -1}
KNOB_SPACE = {
    "dev_right": {"low": 0, "high": 18, "type": "int"},
    "flip": {"low": -1, "high": 21, "type": "int"},
}


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def sealed(item: str) -> bool:
    digest = hashlib.sha256(f"flip\0{item}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 >= 0.5


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset_dir", type=Path, required=True)
    parser.add_argument("--working_dir", type=Path, required=True)
    args = parser.parse_args()
    items = [r["id"] for r in read(args.dataset_dir / "items.csv")]
    hints = read(args.dataset_dir / "hints.csv")[: KNOBS["dev_right"]]
    pred = dict.fromkeys(items, "neg")
    pred.update({h["id"]: h["label"] for h in hints})
    order = [i for i in items if sealed(i)]
    if 0 <= KNOBS["flip"] < len(order):
        item = order[KNOBS["flip"]]
        pred[item] = "pos" if pred[item] == "neg" else "neg"
    out = args.working_dir / "predictions"
    out.mkdir(parents=True, exist_ok=True)
    with (out / "labels.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "label"])
        w.writerows(pred.items())
    (args.working_dir / "trace.jsonl").write_text(json.dumps({"knobs": KNOBS}) + "\n")


if __name__ == "__main__":
    main()
