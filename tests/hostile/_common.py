# Not an agent: the snippet every hostile agent starts with (copied in by the test).
import argparse
import csv
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--dataset_dir", type=Path, required=True)
parser.add_argument("--working_dir", type=Path, required=True)
args = parser.parse_args()


def write_predictions(label_for):
    out = args.working_dir / "predictions"
    out.mkdir(parents=True, exist_ok=True)
    for split in ("dev", "test"):
        with open(args.dataset_dir / f"{split}.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        with open(out / f"{split}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "sex"])
            w.writerows([r["id"], label_for(split, r["id"])] for r in rows)
