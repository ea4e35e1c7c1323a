#!/usr/bin/env python3
"""SIA-style evaluator: evaluate.py --gen-dir DIR reads DIR/submission.csv, writes results.json."""

import argparse
import csv
import json
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--gen-dir", type=Path, required=True)
args = parser.parse_args()
private = Path(__file__).resolve().parent.parent / "private" / "answers.csv"
with private.open(newline="") as f:
    gold = {r["id"]: r["answer"] for r in csv.DictReader(f)}
sub = args.gen_dir / "submission.csv"
pred = {}
if sub.is_file():
    with sub.open(newline="") as f:
        pred = {r["id"]: r["answer"] for r in csv.DictReader(f)}
items = [{"id": i, "status": "CORRECT" if pred.get(i) == g else "WRONG"} for i, g in gold.items()]
correct = sum(it["status"] == "CORRECT" for it in items)
summary = {"total_questions": len(gold), "correct": correct, "accuracy": correct / len(gold)}
(args.gen_dir / "results.json").write_text(json.dumps({"summary": summary, "items": items}))
print(f"accuracy {summary['accuracy']:.3f}")
