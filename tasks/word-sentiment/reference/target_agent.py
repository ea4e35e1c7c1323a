"""Reference agent for the word-sentiment task: character n-gram naive Bayes with tunable knobs.

Contract: python target_agent.py --dataset_dir DIR --working_dir DIR
Writes predictions/dev.csv and predictions/test.csv (id,label) and trace.jsonl to the working dir.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from collections import Counter
from pathlib import Path

# The knobs sia-git's offline search tunes. KNOB_SPACE lists each knob's allowed values: a list
# for a choice, or {"low", "high", "type": "int"|"float", "log"} for a range.
# One knob per line, a blank line between: git merges changes to different knobs.
KNOBS = {
    "ngram_min": 1,

    "ngram_max": 1,

    "alpha": 1.0,

    "word_boundaries": False,

    "use_prior": True,
}  # fmt: skip
KNOB_SPACE = {
    "ngram_min": {"low": 1, "high": 4, "type": "int"},
    "ngram_max": {"low": 1, "high": 6, "type": "int"},
    "alpha": {"low": 0.01, "high": 5.0, "type": "float", "log": True},
    "word_boundaries": [False, True],
    "use_prior": [False, True],
}


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def features(text: str, knobs: dict) -> list[str]:
    t = f"<{text}>" if knobs["word_boundaries"] else text
    lo = knobs["ngram_min"]
    hi = max(lo, knobs["ngram_max"])
    return [t[i : i + n] for n in range(lo, hi + 1) for i in range(len(t) - n + 1)]


class NaiveBayes:
    def __init__(self, knobs: dict) -> None:
        self.knobs = knobs

    def fit(self, texts: list[str], labels: list[str]) -> NaiveBayes:
        self.classes = sorted(set(labels))
        self.counts = {c: Counter() for c in self.classes}
        for text, label in zip(texts, labels, strict=True):
            self.counts[label].update(features(text, self.knobs))
        self.totals = {c: sum(self.counts[c].values()) for c in self.classes}
        self.vocab = len(set().union(*self.counts.values()))
        n = Counter(labels)
        self.prior = {c: math.log(n[c] / len(labels)) for c in self.classes}
        return self

    def predict(self, text: str) -> str:
        alpha = self.knobs["alpha"]
        best, best_score = self.classes[0], -math.inf
        for c in self.classes:
            score = self.prior[c] if self.knobs["use_prior"] else 0.0
            denom = math.log(self.totals[c] + alpha * self.vocab)
            for f in features(text, self.knobs):
                score += math.log(self.counts[c][f] + alpha) - denom
            if score > best_score:
                best, best_score = c, score
        return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset_dir", type=Path, required=True)
    parser.add_argument("--working_dir", type=Path, required=True)
    args = parser.parse_args()
    start = time.time()
    train = read(args.dataset_dir / "train.csv")
    model = NaiveBayes(KNOBS).fit([r["text"] for r in train], [r["label"] for r in train])
    out = args.working_dir / "predictions"
    out.mkdir(parents=True, exist_ok=True)
    for name in ("dev", "test"):
        rows = read(args.dataset_dir / f"{name}.csv")
        with (out / f"{name}.csv").open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "label"])
            w.writerows([r["id"], model.predict(r["text"])] for r in rows)
    train_acc = sum(model.predict(r["text"]) == r["label"] for r in train) / len(train)
    with (args.working_dir / "trace.jsonl").open("w", encoding="utf-8") as f:
        f.write(
            json.dumps(
                {
                    "event": "fit",
                    "knobs": KNOBS,
                    "train_rows": len(train),
                    "train_accuracy": round(train_acc, 4),
                    "seconds": round(time.time() - start, 3),
                }
            )
            + "\n"
        )
    print(f"train accuracy {train_acc:.4f} with {KNOBS}")


if __name__ == "__main__":
    main()
