"""`sia-git audit`: what it reads (only what a clone of the run gets beyond the user's own
history) and each kind of leak it reports."""

from __future__ import annotations

import base64
import gzip
import json
import os
import random
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from sia_git.audit import check_task
from sia_git.core.errors import SiaError
from sia_git.tasks import answers
from sia_git.tasks.task import load
from tests import siatask
from tests.conftest import GIT_ENV, ROOT, Runner, git, run_ids

FLIP_TASK = ROOT / "tests/data/flip_task"


@pytest.fixture
def run(repo: Path, sia: Runner, tmp_path: Path) -> tuple[Path, str, Path]:
    task = siatask.make(tmp_path / "passengers", n_test=80)
    done = sia("evolve", "--task-dir", str(task), "--max-gen", "1", "--quiet", cwd=repo)
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    return repo, run_id, task


def _add_ref(repo: Path, name: str, files: dict[str, str | bytes]) -> None:
    """A commit holding `files` on `name` (as a hostile or buggy writer would leave it)."""
    for path, content in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (repo / path).write_bytes(content)
        else:
            (repo / path).write_text(content)
    env = {**os.environ, **GIT_ENV, "GIT_INDEX_FILE": str(repo / ".git" / "audit-index")}

    def plumbing(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
        ).stdout.strip()

    plumbing("add", *files)
    git(repo, "update-ref", name, plumbing("commit-tree", plumbing("write-tree"), "-m", "x"))


def _sealed(task: Path) -> list[str]:
    t = load(task, source=str(task))
    return sorted(i for i in siatask.gold(task) if t.plan.side(i) == "test")


def _forms(task: Path) -> dict[str, dict[str, str | bytes]]:
    """Every sealed label of `task`, planted in each form issue 26 found `audit` blind to:
    name -> the files of a commit ({path: content})."""
    gold = siatask.gold(task)
    items = _sealed(task)
    private = (task / "data/private/test.csv").read_text()
    rows = "".join(f"{i},{gold[i]}\n" for i in items)
    shuffled = rows.splitlines(keepends=True)
    random.Random(3).shuffle(shuffled)
    literal = "".join(f'    "{i}": "{gold[i]}",\n' for i in items)
    return {
        "two-column rows": {"leak/labels.csv": "PassengerId,Transported\n" + rows},
        "JSON map": {"leak/map.json": json.dumps({i: gold[i] for i in items})},
        "JSON list of objects": {
            "leak/list.json": json.dumps([{"id": i, "label": gold[i]} for i in items])
        },
        "JSON list of pairs": {"leak/pairs.json": json.dumps([[i, gold[i]] for i in items])},
        "ok/ko lines": {
            "leak/status.txt": "".join(
                f"{i}: {'ok' if gold[i] == 'True' else 'ko'}\n" for i in items
            )
        },
        "arrow lines": {"leak/arrows.txt": "".join(f"{i} -> {gold[i]}\n" for i in items)},
        "base64 copy": {"leak/b64.txt": base64.b64encode(private.encode()).decode()},
        "url-safe base64": {  # "???>>>" puts '/' and '+' in base64, '_' and '-' in URL-safe
            "leak/b64url.txt": base64.urlsafe_b64encode(f"???>>>\n{rows}".encode()).decode()
        },
        "hex copy": {"leak/hex.txt": private.encode().hex()},
        "reversed copy": {"leak/rev.txt": private[::-1]},
        "shuffled rows": {"leak/shuffled.csv": "".join(shuffled)},
        "gzip copy": {"leak/data.bin": gzip.compress(private.encode())},
        "zlib in base64": {
            "leak/blob.txt": "DATA = '" + base64.b64encode(zlib.compress(rows.encode())).decode()
        },
        "file names in a tree": {f"leak/{i}_{gold[i]}.txt": "" for i in items},
        "the agent's own source": {
            "leak/target_agent.py": siatask.AGENT.replace(
                "def predict(row):\n", f"LABELS = {{\n{literal}}}\n\n\ndef predict(row):\n"
            )
        },
    }


def test_a_clean_run_is_clean_and_json_says_so(run, sia: Runner) -> None:
    repo, run_id, task = run
    out = json.loads(sia("audit", "--json", cwd=repo).stdout)
    assert out["clean"] and out["findings"] == [] and out["run"] == run_id
    assert out["sealed_items"] == len(_sealed(task)) and out["objects"] > 5


@pytest.mark.parametrize(
    "leak", ["status line", "json item", "keyed map", "private file", "private row"]
)
def test_each_kind_of_leak_is_reported(run, sia: Runner, leak: str) -> None:
    repo, run_id, task = run
    item = _sealed(task)[0]
    private = (task / "data/private/test.csv").read_text()
    text = {
        "status line": f"failed items:\n  {item}: wrong\n",
        "json item": json.dumps({"items": [{"id": item, "status": "wrong"}]}),
        "keyed map": json.dumps({item: "correct", "other": "x"}),
        "private file": "copied:\n" + private,
        "private row": "x\n" + private.splitlines()[3] + "\n",
    }[leak]
    _add_ref(repo, f"refs/sia/{run_id}/attempts/g0099", {"leak/out.txt": text})
    done = sia("audit", cwd=repo)
    assert done.returncode == 1
    assert "leak/out.txt" in done.stdout and "finding(s)" in done.stderr


@pytest.mark.parametrize(
    ("form", "named"),
    [
        ("two-column rows", "leak/labels.csv: pairs"),
        ("JSON map", "leak/map.json: pairs"),
        ("JSON list of objects", "leak/list.json: pairs"),
        ("JSON list of pairs", "leak/pairs.json: pairs"),
        ("ok/ko lines", "leak/status.txt: links"),
        ("arrow lines", "leak/arrows.txt: pairs"),
        ("base64 copy", "(in its base64 text)"),
        ("url-safe base64", "(in its url-safe base64 text)"),
        ("hex copy", "(in its hex text)"),
        ("reversed copy", "(in its reversed text)"),
        ("shuffled rows", "leak/shuffled.csv: pairs"),
        ("gzip copy", "(in its gzip text)"),
        ("zlib in base64", "(in its zlib of base64 text)"),
        ("file names in a tree", " leak: pairs"),
        ("the agent's own source", "leak/target_agent.py: pairs"),
    ],
)
def test_every_sealed_label_in_any_form_is_named(run, sia: Runner, form: str, named: str) -> None:
    """Issue 26: a clone holding every sealed label in each of these forms was called clean."""
    repo, run_id, task = run
    _add_ref(repo, f"refs/sia/{run_id}/rejected/g0099-c1", _forms(task)[form])
    done = sia("audit", cwd=repo)
    assert done.returncode == 1 and "finding(s)" in done.stderr, done.stdout + done.stderr
    assert named in done.stdout, done.stdout
    assert (
        "Transported" in done.stdout
        or "status words" in done.stdout
        or ("private answer file" in done.stdout)
    )


def test_a_few_pairs_or_a_good_agents_predictions_are_not_a_leak(run, sia: Runner) -> None:
    """Pairs that agree with the labels no better than a good agent does are not reported (a
    stored submission is allowed), nor are three binary labels (a guess hits them 1 in 8)."""
    repo, run_id, task = run
    gold, items = siatask.gold(task), _sealed(task)
    flip = {"True": "False", "False": "True"}
    guess = {i: gold[i] if n % 5 else flip[gold[i]] for n, i in enumerate(items)}  # 80% right
    _add_ref(
        repo,
        f"refs/sia/{run_id}/rejected/g0099-c1",
        {
            "work/trace.jsonl": "".join(
                json.dumps({"id": i, "prediction": p}) + "\n" for i, p in guess.items()
            ),
            "work/three.txt": "".join(f"{i}: {gold[i]}\n" for i in items[:3]),
        },
    )
    done = sia("audit", cwd=repo)
    assert done.returncode == 0, done.stdout


def test_the_users_history_before_the_run_is_not_the_runs(run, sia: Runner) -> None:
    repo, run_id, task = run
    # A file in the user's own history (before the run's base) is not something the run adds.
    base = git(repo, "rev-parse", f"refs/sia/{run_id}/base").strip()
    assert base
    item = _sealed(task)[0]
    _add_ref(repo, "refs/heads/unrelated", {"mine.txt": f"{item}: wrong\n"})
    assert sia("audit", cwd=repo).returncode == 0
    # ... but the same text reachable from the run's notes is.
    git(
        repo,
        "notes",
        "--ref",
        "sia",
        "add",
        "-f",
        "-m",
        f"{item}: wrong",
        git(repo, "rev-parse", f"sia/{run_id}").strip(),
    )
    done = sia("audit", cwd=repo)
    assert done.returncode == 1 and f"links sealed test item {item} to status" in done.stdout


def test_another_task_is_refused_in_one_line(run, sia: Runner, tmp_path: Path) -> None:
    """Issue 26: `audit --task-dir <another task>` checked the other task's ids, said clean."""
    repo, run_id, _ = run
    other = siatask.make(tmp_path / "other", seed=8, task_toml='name = "another"\n')
    done = sia("audit", "--task-dir", str(other), cwd=repo)
    assert done.returncode == 2 and done.stdout == "", done.stdout
    [line] = done.stderr.strip().splitlines()
    assert f"--task-dir {other}: it is task another with answers sha256:" in line
    assert f"but run {run_id} was made with task passengers" in line


def test_check_task_compares_the_recorded_answers(tmp_path: Path) -> None:
    task = load(siatask.make(tmp_path / "passengers"), source="x")
    digest = answers.digest(task.private_dir)
    assert digest.startswith("sha256:") and len(digest) == 7 + 64
    recorded = {"run_id": "r1", "task_name": "passengers", "answers_digest": digest}
    check_task(recorded, task)  # the same answers
    moved = load(siatask.make(tmp_path / "moved"), source="x")
    check_task(recorded, moved)  # a SIA task's folder renamed: its answers decide
    relabelled = tmp_path / "passengers/data/private/test.csv"
    relabelled.write_text(relabelled.read_text().replace("True", "False", 1))
    with pytest.raises(SiaError, match=r"answers sha256:\w+, but run r1 was made with task "):
        check_task(recorded, task)
    assert answers.digest(task.private_dir) != digest
    flip = load(shutil.copytree(FLIP_TASK, tmp_path / "flip"), "x")
    check_task({"run_id": "r2", "task_name": "flip"}, flip)  # no digest recorded: the name
    with pytest.raises(SiaError, match="it is task flip .* made with task other"):
        check_task({"run_id": "r2", "task_name": "other"}, flip)


def test_audit_needs_the_task_and_says_how_to_give_it(run, sia: Runner, tmp_path: Path) -> None:
    repo, _, task = run
    task.rename(tmp_path / "moved")
    done = sia("audit", cwd=repo)
    assert done.returncode != 0 and "task directory not found" in done.stderr
    assert sia("audit", "--task-dir", str(tmp_path / "moved"), cwd=repo).returncode == 0
