"""SIA-layout reference agent: adds the two numbers, plus a (wrong) offset knob."""

import argparse
import csv
import json
from pathlib import Path

KNOBS = {"offset": 3}
KNOB_SPACE = {"offset": [0, 1, 2, 3, 4, 5]}

parser = argparse.ArgumentParser()
parser.add_argument("--dataset_dir", type=Path, required=True)
parser.add_argument("--working_dir", type=Path, required=True)
args = parser.parse_args()
questions = json.loads((args.dataset_dir / "questions.json").read_text())
with (args.working_dir / "submission.csv").open("w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["id", "answer"])
    w.writerows([q["id"], q["a"] + q["b"] + KNOBS["offset"]] for q in questions)
