#!/usr/bin/env python3
"""Accuracy evaluator for classification tasks (trusted: runs outside the sandbox).

Usage: evaluate.py --predictions DIR --answers DIR --split NAME --output FILE

Reads the answer key ANSWERS/<split>.csv (columns: id, <label>) and the agent's predictions
PREDICTIONS/predictions/<split>.csv (same columns). Writes JSON with the score, summary metrics
and one gold-free status per item (correct, wrong, missing, invalid) -- never the expected label.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path


def read_labels(path: Path) -> tuple[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        if "id" not in fields or len(fields) != 2:
            raise SystemExit(f"{path}: expected two columns 'id' and a label column, got {fields}")
        label = next(c for c in fields if c != "id")
        return label, {r["id"]: r[label].strip().lower() for r in reader}


def read_predictions(path: Path, label: str) -> dict[str, str]:
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="", errors="replace") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "id" not in reader.fieldnames or label not in reader.fieldnames:
            return {}
        return {(r.get("id") or "").strip(): (r.get(label) or "").strip().lower() for r in reader}


def score(answers: dict[str, str], predicted: dict[str, str]) -> dict:
    classes = set(answers.values())
    items, counts = [], {"correct": 0, "wrong": 0, "missing": 0, "invalid": 0}
    for item_id, gold in answers.items():
        if item_id not in predicted:
            status = "missing"
        elif predicted[item_id] not in classes:
            status = "invalid"
        else:
            status = "correct" if predicted[item_id] == gold else "wrong"
        counts[status] += 1
        items.append({"id": item_id, "status": status})
    accuracy = counts["correct"] / len(answers) if answers else 0.0
    return {
        "score": accuracy,
        "metrics": {"accuracy": accuracy, "total": len(answers), **counts},
        "items": items,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", type=Path, required=True)
    parser.add_argument("--answers", type=Path, required=True)
    parser.add_argument("--split", required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    label, answers = read_labels(args.answers / f"{args.split}.csv")
    predicted = read_predictions(args.predictions / "predictions" / f"{args.split}.csv", label)
    result = score(answers, predicted)
    args.output.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(
        f"{args.split}: accuracy {result['score']:.4f} ({result['metrics']['correct']}/"
        f"{result['metrics']['total']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
