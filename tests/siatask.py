"""A binary SIA-layout task built the way the `sia-agent` 0.6.0 wheel lays out its tasks.

Like the wheel's spaceship-titanic: `data/public/{task.md,train.csv,test.csv,
sample_submission.csv,evaluate.py}`, `data/private/test.csv` (the test rows with their labels,
the only answer set), `reference/{reference_target_agent.py,SAMPLE_TASK_DESCRIPTIONS.md}`. The
evaluator is called as SIA calls it, `evaluate.py --gen-dir DIR`, reads `../private/` next to
itself as the wheel's do, and writes `results.json` with per-item statuses (what made the label
reconstruction possible). `EVAL_METRIC=f1` (an evaluator setting from task.toml) makes it report
F1, which is not a mean over items.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

EVALUATOR = '''"""Evaluate a submission against the private ground truth (SIA's --gen-dir)."""
import argparse
import csv
import json
import os
from pathlib import Path

TASK_DIR = Path(__file__).parent.parent.parent
TRUTH_PATH = TASK_DIR / "data/private/test.csv"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gen-dir", type=Path, required=True)
    args = parser.parse_args()
    with TRUTH_PATH.open(newline="") as f:
        truth = {r["PassengerId"]: r["Transported"] for r in csv.DictReader(f)}
    pred = {}
    sub = args.gen_dir / "submission.csv"
    if sub.exists():
        with sub.open(newline="") as f:
            pred = {r["PassengerId"]: r["Transported"] for r in csv.DictReader(f)}
    items, tp, fp, fn = [], 0, 0, 0
    for pid, gold in truth.items():
        p = pred.get(pid)
        items.append({"id": pid, "status": "correct" if p == gold else
                      ("missing" if p is None else "wrong")})
        tp += p == "True" and gold == "True"
        fp += p == "True" and gold == "False"
        fn += p != "True" and gold == "True"
    acc = sum(i["status"] == "correct" for i in items) / len(items)
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    r = {"accuracy": acc, "f1": f1, "n_total": len(items), "items": items}
    if os.environ.get("EVAL_METRIC") == "f1":
        r = {"f1": f1, "n_total": len(items), "items": items}
    (args.gen_dir / "results.json").write_text(json.dumps(r, indent=2))
    print(f"Accuracy : {acc:.4f}  F1 : {f1:.4f}")


if __name__ == "__main__":
    main()
'''

AGENT = '''"""Reference agent: predicts Transported from CryoSleep and spending."""
import argparse
import csv
import json
from pathlib import Path

KNOBS = {"spend_limit": 5000, "cryo_vote": 1}
KNOB_SPACE = {"spend_limit": [0, 200, 500, 1000, 2000, 5000], "cryo_vote": [0, 1]}


def predict(row):
    if KNOBS["cryo_vote"] and row["CryoSleep"] == "True":
        return "True"
    return "True" if float(row["Spa"] or 0) < KNOBS["spend_limit"] else "False"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset_dir", type=Path, required=True)
    parser.add_argument("--working_dir", type=Path, required=True)
    args = parser.parse_args()
    with (args.dataset_dir / "test.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    preds = [(r["PassengerId"], predict(r)) for r in rows]
    with (args.working_dir / "submission.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["PassengerId", "Transported"])
        w.writerows(preds)
    with (args.working_dir / "trace.jsonl").open("w") as f:
        for pid, p in preds:
            f.write(json.dumps({"id": pid, "prediction": p}) + "\\n")
    print(f"predicted {len(preds)} passengers")


if __name__ == "__main__":
    main()
'''

FIELDS = ["PassengerId", "HomePlanet", "CryoSleep", "Age", "Spa"]


def _rows(rng: random.Random, n: int, start: int) -> list[dict[str, str]]:
    out = []
    for k in range(n):
        cryo = rng.random() < 0.35
        spa = 0.0 if cryo else round(rng.expovariate(1 / 600), 1)
        p = 0.85 if cryo else (0.6 if spa < 300 else 0.2)
        out.append(
            {
                "PassengerId": f"{start + k:04d}_0{rng.randint(1, 3)}",
                "HomePlanet": rng.choice(["Earth", "Europa", "Mars"]),
                "CryoSleep": str(cryo),
                "Age": str(rng.randint(1, 70)),
                "Spa": str(spa),
                "Transported": str(rng.random() < p),
            }
        )
    return out


def _write(path: Path, rows: list[dict[str, str]], fields: list[str]) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fields, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def make(
    root: Path, n_train: int = 300, n_test: int = 200, seed: int = 7, task_toml: str | None = None
) -> Path:
    """Lay the task out under `root` (its name is the folder's); return `root`."""
    rng = random.Random(seed)
    train, test = _rows(rng, n_train, 1), _rows(rng, n_test, 5001)
    public, private, ref = root / "data/public", root / "data/private", root / "reference"
    for d in (public, private, ref):
        d.mkdir(parents=True, exist_ok=True)
    _write(public / "train.csv", train, [*FIELDS, "Transported"])
    _write(public / "test.csv", test, FIELDS)
    _write(
        public / "sample_submission.csv",
        [{"PassengerId": r["PassengerId"], "Transported": "False"} for r in test],
        ["PassengerId", "Transported"],
    )
    _write(private / "test.csv", test, [*FIELDS, "Transported"])
    (public / "task.md").write_text(
        "# Passenger transport\n\nPredict `Transported` (True/False) for each passenger in "
        "test.csv from train.csv. Write submission.csv (PassengerId,Transported) to the "
        "working dir.\n"
    )
    (public / "evaluate.py").write_text(EVALUATOR)
    (ref / "reference_target_agent.py").write_text(AGENT)
    (ref / "SAMPLE_TASK_DESCRIPTIONS.md").write_text("# Samples\n\nA tabular task.\n")
    if task_toml is not None:
        (root / "data/task.toml").write_text(task_toml)
    return root


def gold(root: Path) -> dict[str, str]:
    with (root / "data/private/test.csv").open(newline="") as f:
        return {r["PassengerId"]: r["Transported"] for r in csv.DictReader(f)}
