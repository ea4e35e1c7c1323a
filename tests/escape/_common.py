# Not an agent: the start of every escape agent (copied in by the test).
import argparse
import csv
import os
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--dataset_dir", type=Path, required=True)
parser.add_argument("--working_dir", type=Path, required=True)
args = parser.parse_args()
WORK = args.working_dir


def note(text):
    with open(WORK / "trace.jsonl", "a") as f:
        f.write(text + "\n")


def predict(answers=None):
    out = WORK / "predictions"
    out.mkdir(parents=True, exist_ok=True)
    for split in ("dev", "test"):
        with open(args.dataset_dir / f"{split}.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        with open(out / f"{split}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "sex"])
            w.writerows([r["id"], (answers or {}).get(r["id"], "male")] for r in rows)


def read_answers(folder):
    answers = {}
    for split in ("dev", "test"):
        with open(os.path.join(folder, f"{split}.csv"), newline="") as f:
            answers.update({r["id"]: r["sex"] for r in csv.DictReader(f)})
    return answers
