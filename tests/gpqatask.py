"""A GPQA-style SIA-layout task: multiple-choice questions whose public file holds each question
with its choices in a shuffled order, and whose private file holds each question again with its
correct answer (as SIA's gpqa does: the public and private files share the question text).

Questions span lines and hold commas and words like "correct", so a line of the public file is
also a line of the private one: issue 28's audit reported each as a leak.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

EVALUATOR = '''"""Scores picks.csv (id, choice letter) against the private correct answers."""
import argparse
import csv
import json
from pathlib import Path

DATA = Path(__file__).parent.parent


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gen-dir", type=Path, required=True)
    args = parser.parse_args()
    with (DATA / "private/answers.csv").open(newline="") as f:
        truth = {r["id"]: r["correct_answer"] for r in csv.DictReader(f)}
    with (DATA / "public/questions.csv").open(newline="") as f:
        choices = {r["id"]: r for r in csv.DictReader(f)}
    picked = {}
    sub = args.gen_dir / "picks.csv"
    if sub.exists():
        with sub.open(newline="") as f:
            picked = {r["id"]: r["choice"] for r in csv.DictReader(f)}
    items = []
    for qid, answer in truth.items():
        letter = picked.get(qid)
        ok = bool(letter) and letter in "ABCD" and choices[qid][letter] == answer
        items.append({"id": qid, "status": "correct" if ok else "wrong"})
    acc = sum(i["status"] == "correct" for i in items) / len(items)
    result = {"accuracy": acc, "items": items}
    (args.gen_dir / "results.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
'''

AGENT = '''"""Answers every question with the choice the knob names."""
import argparse
import csv
import json
from pathlib import Path

KNOBS = {"choice": "A"}
KNOB_SPACE = {"choice": ["A", "B", "C", "D"]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset_dir", type=Path, required=True)
    parser.add_argument("--working_dir", type=Path, required=True)
    args = parser.parse_args()
    with (args.dataset_dir / "questions.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    with (args.working_dir / "picks.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "choice"])
        w.writerows([r["id"], KNOBS["choice"]] for r in rows)
    with (args.working_dir / "trace.jsonl").open("w") as f:
        for r in rows:
            f.write(json.dumps({"id": r["id"], "choice": KNOBS["choice"]}) + "\\n")


if __name__ == "__main__":
    main()
'''

SUBJECTS = ["a proton", "an electron", "a neutron", "a photon", "a muon", "a pion"]


def _question(rng: random.Random, n: int) -> tuple[str, list[str]]:
    subject = rng.choice(SUBJECTS)
    text = (
        f"Consider {subject}, at rest, in a field of {n + 2}.{n} tesla, and a detector, "
        f"calibrated, shielded, cooled.\nWhich of the following is correct about its energy, "
        f"spin, and charge (case {n})?"
    )
    options = [f"It is {rng.randint(2, 999)} units, in {w} case {n}" for w in "wxyz"]
    return text, options


def make(root: Path, n: int = 24, seed: int = 28) -> Path:
    """Lay the task out under `root` (its name is the folder's); return `root`."""
    rng = random.Random(seed)
    public, private, ref = root / "data/public", root / "data/private", root / "reference"
    for d in (public, private, ref):
        d.mkdir(parents=True, exist_ok=True)
    pub_rows, priv_rows = [], []
    for k in range(n):
        qid = f"rec{k:03d}x"
        text, options = _question(rng, k)
        answer = options[0]
        rng.shuffle(options)
        pub_rows.append({"id": qid, "question": text, **dict(zip("ABCD", options, strict=True))})
        priv_rows.append({"id": qid, "question": text, "correct_answer": answer})
    _write(public / "questions.csv", pub_rows, ["id", "question", "A", "B", "C", "D"])
    _write(private / "answers.csv", priv_rows, ["id", "question", "correct_answer"])
    (public / "task.md").write_text(
        "# Questions\n\nAnswer each question of questions.csv with a letter: write picks.csv "
        "(id,choice) to the working dir.\n"
    )
    (public / "evaluate.py").write_text(EVALUATOR)
    (ref / "reference_target_agent.py").write_text(AGENT)
    return root


def _write(path: Path, rows: list[dict[str, str]], fields: list[str]) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def answers(root: Path) -> dict[str, str]:
    with (root / "data/private/answers.csv").open(newline="") as f:
        return {r["id"]: r["correct_answer"] for r in csv.DictReader(f)}
