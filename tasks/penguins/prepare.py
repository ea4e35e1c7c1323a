"""Build the penguins task's public/private split from the `palmerpenguins` package.

Run from anywhere: `python tasks/penguins/prepare.py`. The output is deterministic (fixed seed,
fixed column order), and tests/test_builtin_tasks.py checks that it reproduces the shipped files
byte for byte. The data is the Palmer Station LTER penguin data (CC0), shipped in the MIT-licensed
`palmerpenguins` PyPI package, which is never made importable inside the agent's sandbox.
"""

from __future__ import annotations

import csv
import random
import sys
from importlib import resources
from pathlib import Path

SEED = 20261125
N_DEV = 80
N_TEST = 80
COLUMNS = {  # raw column -> public column
    "studyName": "study",
    "Species": "species",
    "Island": "island",
    "Individual ID": "individual_id",
    "Clutch Completion": "clutch_completion",
    "Date Egg": "date_egg",
    "Culmen Length (mm)": "culmen_length_mm",
    "Culmen Depth (mm)": "culmen_depth_mm",
    "Flipper Length (mm)": "flipper_length_mm",
    "Body Mass (g)": "body_mass_g",
    "Delta 15 N (o/oo)": "delta_15n",
    "Delta 13 C (o/oo)": "delta_13c",
}


def load_rows() -> list[dict[str, str]]:
    raw = resources.files("palmerpenguins").joinpath("data/penguins-raw.csv")
    with raw.open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["Sex"] in ("MALE", "FEMALE")]
    out = []
    for r in rows:
        row = {new: ("" if r[old] == "NA" else r[old]) for old, new in COLUMNS.items()}
        row["species"] = row["species"].split(" (")[0]
        row["sex"] = r["Sex"].lower()
        out.append(row)
    return out


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: r[c] for c in columns})


def prepare(task_dir: Path) -> None:
    rows = load_rows()
    random.Random(SEED).shuffle(rows)
    for i, r in enumerate(rows):
        r["id"] = f"P{i + 1:04d}"
    test, dev, train = rows[:N_TEST], rows[N_TEST : N_TEST + N_DEV], rows[N_TEST + N_DEV :]
    features = ["id", *COLUMNS.values()]
    public, private = task_dir / "public", task_dir / "private"
    write_csv(public / "train.csv", sorted(train, key=lambda r: r["id"]), [*features, "sex"])
    for name, split in (("dev", dev), ("test", test)):
        split = sorted(split, key=lambda r: r["id"])
        write_csv(public / f"{name}.csv", split, features)
        write_csv(private / f"{name}.csv", split, ["id", "sex"])


if __name__ == "__main__":
    prepare(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
