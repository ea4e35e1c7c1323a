"""The trusted evaluator: sees only the agent's regular files, and its failures are named."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from sia_git.tasks.evaluation import EvaluatorFailed, copy_outputs, evaluate
from sia_git.tasks.task import load, resolve


def test_scores_both_splits_with_gold_free_items(tmp_path: Path) -> None:
    task = resolve("penguins", None)
    work = tmp_path / "work" / "predictions"
    work.mkdir(parents=True)
    for split in ("dev", "test"):
        shutil.copyfile(task.private_dir / f"{split}.csv", work / f"{split}.csv")
    ev = evaluate(task, tmp_path / "work", tmp_path / "scratch")
    assert ev.score("dev") == 1.0 and ev.score("test") == 1.0
    items = ev.splits["dev"].items
    assert len(items) == 80 and all(set(i) == {"id", "status"} for i in items)
    # The sealed test split is its aggregate score and nothing else.
    assert ev.splits["test"].items == [] and ev.splits["test"].metrics == {}
    assert set(ev.logs) == {
        f"evaluator/dev.{k}" for k in ("stdout.txt", "stderr.txt", "result.json")
    }


def test_agent_results_json_and_symlinks_are_dropped(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "results.json").write_text('{"score": 1}')
    (work / "sub" / "ok.txt").write_text("fine")
    os.symlink("/etc/hostname", work / "link.txt")
    dropped = copy_outputs(work, tmp_path / "copy")
    assert (tmp_path / "copy" / "sub" / "ok.txt").read_text() == "fine"
    assert not (tmp_path / "copy" / "results.json").exists()
    assert not (tmp_path / "copy" / "link.txt").exists()
    assert len(dropped) == 2


def _broken_task(tmp_path: Path, body: str):
    root = tmp_path / "task"
    shutil.copytree(resolve("penguins", None).root, root)
    (root / "evaluate.py").write_text(body)
    toml = (
        (root / "task.toml")
        .read_text()
        .replace('builtin = "accuracy"', 'path = "evaluate.py"\ntimeout_s = 2')
    )
    toml = toml.replace("timeout_s = 60\n\n[layout]", "\n[layout]")
    (root / "task.toml").write_text(toml)
    return load(root, source=str(root))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("raise ZeroDivisionError('boom')\n", r"failed \(exit 1\): ZeroDivisionError: boom"),
        ("import time\ntime.sleep(30)\n", "timed out after 2s"),
        ("import sys\nopen(sys.argv[-1], 'w').write('garbage')\n", "is not JSON"),
        (
            "import sys\nopen(sys.argv[-1], 'w').write('{\"score\": \"high\"}')\n",
            "no finite number",
        ),
        ("print('I forgot to write the result')\n", "wrote no result file"),
    ],
)
def test_evaluator_failures_are_named(tmp_path: Path, body: str, message: str) -> None:
    task = _broken_task(tmp_path, body)
    (tmp_path / "work").mkdir()
    with pytest.raises(EvaluatorFailed, match=message):
        evaluate(task, tmp_path / "work", tmp_path / "scratch")


def test_sia_layout_evaluator_runs_unchanged(tmp_path: Path) -> None:
    root = Path(__file__).parent / "data" / "sia_task"
    task = load(root, source=str(root))
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "submission.csv").write_text("id,answer\nq0,1\n")
    ev = evaluate(task, tmp_path / "work", tmp_path / "scratch")
    assert 0.0 <= ev.score("dev") < 0.1
    assert ev.splits["dev"].items[0]["status"] in ("correct", "wrong")


def test_the_evaluator_runs_under_a_memory_cap(tmp_path: Path) -> None:
    """An evaluator that keeps ~9x the submission in memory, on a 100 MB submission, with a
    128 MB cap: one clear error naming the setting, not a machine out of memory; the same
    evaluator on a small submission still scores."""
    body = (
        "import argparse, json, pathlib\n"
        "p = argparse.ArgumentParser()\n"
        "for a in ('--predictions', '--answers', '--split', '--output'):\n"
        "    p.add_argument(a)\n"
        "a = p.parse_args()\n"
        "text = (pathlib.Path(a.predictions) / 'big.txt').read_text()\n"
        "words = [w.upper() for w in text.split()]  # the copies a careless evaluator makes\n"
        "json.dump({'score': 0.5, 'items': []}, open(a.output, 'w'))\n"
    )
    task = _broken_task(tmp_path, body)
    toml = task.root / "task.toml"
    toml.write_text(toml.read_text().replace("timeout_s = 2", "timeout_s = 60\nmemory_mb = 128"))
    task = load(task.root, source=str(task.root))
    assert task.manifest.evaluator.memory_mb == 128
    work = tmp_path / "work"
    work.mkdir()
    (work / "big.txt").write_text("ab " * 1000)
    assert evaluate(task, work, tmp_path / "ok").score("dev") == 0.5
    with (work / "big.txt").open("w") as f:
        for _ in range(100):
            f.write("ab " * 350_000)  # ~1 MB a line, 100 MB in all
    with pytest.raises(EvaluatorFailed, match=r"ran out of memory .* 128 MB: \[evaluator\] "
                       r"memory_mb in .*task.toml"):  # fmt: skip
        evaluate(task, work, tmp_path / "big")
