"""Reference agent for the penguins task: a small numpy classifier with tunable knobs.

Contract: python target_agent.py --dataset_dir DIR --working_dir DIR
Writes predictions/dev.csv and predictions/test.csv (id,sex) and trace.jsonl to the working dir.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

# The knobs sia-git's offline search tunes. KNOB_SPACE lists each knob's allowed values: a list
# for a choice, or {"low", "high", "type": "int"|"float", "log"} for a range.
# One knob per line, a blank line between: git merges changes to different knobs.
KNOBS = {
    "model": "threshold",

    "features": "mass",

    "standardize": False,

    "per_species": False,

    "k": 5,

    "l2": 1.0,
}  # fmt: skip
KNOB_SPACE = {
    "model": ["majority", "threshold", "centroid", "knn", "logreg"],
    "features": ["mass", "morpho", "all"],
    "standardize": [False, True],
    "per_species": [False, True],
    "k": {"low": 1, "high": 25, "type": "int"},
    "l2": {"low": 0.0001, "high": 10.0, "type": "float", "log": True},
}

NUMERIC = {
    "mass": ["body_mass_g"],
    "morpho": ["culmen_length_mm", "culmen_depth_mm", "flipper_length_mm", "body_mass_g"],
    "all": [
        "culmen_length_mm",
        "culmen_depth_mm",
        "flipper_length_mm",
        "body_mass_g",
        "delta_15n",
        "delta_13c",
    ],
}
CATEGORICAL = ["species", "island", "clutch_completion", "study"]


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def numeric_matrix(rows, cols, fill):
    x = np.array([[float(r[c]) if r[c] else np.nan for c in cols] for r in rows])
    return np.where(np.isnan(x), fill, x)


def featurize(train, others, knobs):
    cols = NUMERIC[knobs["features"]]
    raw_train = numeric_matrix(train, cols, np.nan)
    fill = np.nanmean(raw_train, axis=0)
    mats = [numeric_matrix(rows, cols, fill) for rows in (train, *others)]
    if knobs["standardize"]:
        groups = [
            [r["species"] if knobs["per_species"] else "" for r in rows]
            for rows in (train, *others)
        ]
        for g in set(groups[0]):
            mask = np.array([s == g for s in groups[0]])
            mu, sd = mats[0][mask].mean(axis=0), mats[0][mask].std(axis=0) + 1e-9
            for m, grp in zip(mats, groups, strict=True):
                sel = np.array([s == g for s in grp], dtype=bool)
                if sel.any():
                    m[sel] = (m[sel] - mu) / sd
    if knobs["features"] == "all":
        levels = {c: sorted({r[c] for r in train}) for c in CATEGORICAL}
        for i, rows in enumerate((train, *others)):
            onehot = [[float(r[c] == v) for c in CATEGORICAL for v in levels[c]] for r in rows]
            mats[i] = np.hstack([mats[i], np.array(onehot)])
    return mats[0], mats[1:]


def fit_predict(x, y, tests, knobs):
    model = knobs["model"]
    if model == "majority":
        return [np.full(len(t), int(y.mean() >= 0.5)) for t in tests]
    if model == "threshold":
        col, cut = 0, (x[y == 1, 0].mean() + x[y == 0, 0].mean()) / 2
        up = x[y == 1, col].mean() > cut
        return [((t[:, col] > cut) == up).astype(int) for t in tests]
    if model == "centroid":
        c1, c0 = x[y == 1].mean(axis=0), x[y == 0].mean(axis=0)
        return [(((t - c1) ** 2).sum(1) < ((t - c0) ** 2).sum(1)).astype(int) for t in tests]
    if model == "knn":
        out = []
        for t in tests:
            d = ((t[:, None, :] - x[None, :, :]) ** 2).sum(-1)
            idx = np.argsort(d, axis=1)[:, : knobs["k"]]
            out.append((y[idx].mean(axis=1) >= 0.5).astype(int))
        return out
    if model == "logreg":
        xb = np.hstack([x, np.ones((len(x), 1))])
        w = np.zeros(xb.shape[1])
        for _ in range(500):
            p = 1 / (1 + np.exp(-xb @ w))
            grad = xb.T @ (p - y) / len(y) + knobs["l2"] * np.r_[w[:-1], 0] / len(y)
            w -= 0.5 * grad
        return [((np.hstack([t, np.ones((len(t), 1))]) @ w) > 0).astype(int) for t in tests]
    raise ValueError(f"unknown model {model!r}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset_dir", type=Path, required=True)
    parser.add_argument("--working_dir", type=Path, required=True)
    args = parser.parse_args()
    start = time.time()
    train = read(args.dataset_dir / "train.csv")
    splits = {name: read(args.dataset_dir / f"{name}.csv") for name in ("dev", "test")}
    y = np.array([r["sex"] == "male" for r in train], dtype=float)
    x, tests = featurize(train, list(splits.values()), KNOBS)
    preds = fit_predict(x, y, tests, KNOBS)
    out = args.working_dir / "predictions"
    out.mkdir(parents=True, exist_ok=True)
    for (name, rows), p in zip(splits.items(), preds, strict=True):
        with (out / f"{name}.csv").open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "sex"])
            w.writerows([r["id"], "male" if v else "female"] for r, v in zip(rows, p, strict=True))
    train_acc = float((fit_predict(x, y, [x], KNOBS)[0] == y).mean())
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
