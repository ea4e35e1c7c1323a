"""tasks/goldfree.py: what an evaluator says about the selection split is kept without any
item's answer, however the evaluator names it (SIA's gpqa writes `correct_answer` per item)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sia_git.tasks import goldfree
from sia_git.tasks.evaluation import evaluate
from sia_git.tasks.task import load
from tests import gpqatask

# gpqa's own shape: per-item `details` (not `items`), each with the correct answer, and the
# answers printed on stdout.
GPQA_LIKE = gpqatask.EVALUATOR.replace(
    """        items.append({"id": qid, "status": "correct" if ok else "wrong"})""",
    """        items.append({"id": qid, "picked": letter, "correct_answer": answer, "ok": ok})
        print(f"{qid}: expected {answer}")""",
).replace(
    """    acc = sum(i["status"] == "correct" for i in items) / len(items)
    result = {"accuracy": acc, "items": items}""",
    """    acc = sum(i["ok"] for i in items) / len(items)
    result = {"accuracy": acc, "details": items}""",
)


def test_a_gpqa_style_evaluators_dev_output_is_kept_without_answers(tmp_path: Path) -> None:
    assert GPQA_LIKE != gpqatask.EVALUATOR and "correct_answer" in GPQA_LIKE
    root = gpqatask.make(tmp_path / "gpqa")
    (root / "data/public/evaluate.py").write_text(GPQA_LIKE)
    (root / "data/task.toml").write_text('[splits]\nid_field = "id"\nmethod = "narrow"\n')
    task = load(root, source=str(root))
    work = tmp_path / "work"
    work.mkdir()
    with (work / "picks.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "choice"])
        w.writerows([qid, "A"] for qid in gpqatask.answers(root))
    ev = evaluate(task, work, tmp_path / "scratch")
    kept = {k: v.decode() for k, v in ev.logs.items()}
    assert set(kept) == {f"evaluator/dev.{x}" for x in ("stdout.txt", "stderr.txt", "result.json")}
    dev = {i for i in gpqatask.answers(root) if task.plan.side(i) == "dev"}
    result = json.loads(kept["evaluator/dev.result.json"])
    assert result["details"] and all("correct_answer" not in d for d in result["details"])
    assert {d["id"] for d in result["details"]} == dev  # the rest of each entry is kept
    for qid, answer in gpqatask.answers(root).items():
        for text in kept.values():
            assert f"{qid}: expected {answer}" not in text
    assert "expected [gold]" in kept["evaluator/dev.stdout.txt"]


def test_an_answer_under_any_name_is_removed_and_statuses_stay() -> None:
    golds = {"q1": {"Paris"}, "q2": {"Rome"}}
    raw = json.dumps({
        "items": [{"id": "q1", "status": "correct", "mystery": "Paris", "n": 3},
                  {"qid": "q2", "status": "wrong", "note": "Rome", "gold": "x"}],
        "by_id": {"q1": "Paris", "q2": {"truth": "Rome", "seen": 2}},
        "score": 0.5,
    }).encode()  # fmt: skip
    clean = json.loads(goldfree.scrub_json(raw, golds))
    assert clean == {
        "items": [{"id": "q1", "status": "correct", "n": 3}, {"qid": "q2", "status": "wrong"}],
        "by_id": {"q2": {"seen": 2}},
        "score": 0.5,
    }
    assert goldfree.scrub_text("q1 was Paris; Parisian\nq3 Paris\n", golds) == (
        "q1 was [gold]; Parisian\nq3 Paris\n"
    )
    assert goldfree.scrub_json(b"not json q2 Rome", golds) == b"not json q2 [gold]"
