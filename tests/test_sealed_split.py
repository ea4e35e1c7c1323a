"""The sealed test split, end to end on a SIA-layout task (tests/siatask.py, laid out as the
`sia-agent` wheel lays out its tasks): selection on dev only, no test item's result in anything
a clone gets, the audit, and a label-reconstruction attacker working from a fresh clone.

The model is tests/fakellm.py, an OpenAI-compatible server on 127.0.0.1 reached through real
litellm; it stands in for a hosted model and plays a scripted Feedback-Agent.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sia_git.tasks import sealed, splits
from sia_git.tasks.task import load
from tests import siatask
from tests.conftest import Runner, git, run_ids
from tests.fakellm import FakeLLM, Reply, tool

pytestmark = pytest.mark.slow
MODEL = "openai/scripted-feedback"
STATUS = re.compile(r"^\s*(\S+): (correct|wrong|missing|invalid)\s*$", re.MULTILINE)


def turn(body: dict[str, Any]) -> int:
    return sum(1 for m in body["messages"] if m["role"] == "assistant")


def finish(lever: str = "harness") -> Reply:
    return tool(
        "finish",
        subject="tune the spending rule",
        diagnosis="big spenders are misclassified",
        hypothesis="a lower limit separates them",
        change="edited KNOBS",
        lever=lever,
        lever_reason="a rule-level change",
    )


def every_read_tool(edit: tuple[str, str] | None) -> list[Reply]:
    """A Feedback-Agent that looks at everything it may see, then edits (or asks for knobs)."""
    steps = [
        tool("list_generations"),
        tool("show_generation", generation=1),
        tool("diff", from_generation=1, to_generation=1),
        tool("eval_summary", generation=1),
        tool("gate_report", generation=1),
        tool("read_trace", generation=1),
        tool("read_trace", generation=1, name="work/trace.jsonl"),
        tool("read_trace", generation=1, name="stdout.txt"),
        tool("list_task_files"),
        tool("read_task_file", path="train.csv"),
        tool("read_agent_file"),
    ]
    if edit:
        return [*steps, tool("edit_agent_file", search=edit[0], replace=edit[1]), finish()]
    return [*steps, finish("knobs")]


def script(body: dict[str, Any], n: int) -> Reply:
    gen = (
        int(m.group(1))
        if (m := re.search(r"for generation (\d+)", body["messages"][0]["content"]))
        else 2
    )
    edit = ('"spend_limit": 5000', '"spend_limit": 0') if gen == 2 else None
    steps = every_read_tool(edit)
    return steps[min(turn(body), len(steps) - 1)]


def trailers(repo: Path, rev: str) -> dict[str, str]:
    msg = git(repo, "log", "-1", "--format=%B", rev)
    out = subprocess.run(
        ["git", "interpret-trailers", "--parse"],
        input=msg,
        text=True,
        capture_output=True,
        check=True,
    ).stdout
    return dict(line.split(": ", 1) for line in out.splitlines())


def fresh_clone(repo: Path, dest: Path) -> Path:
    """What someone gets from the README's push recipe: the run branch, refs/sia/*, notes."""
    git(repo.parent, "clone", "-q", "--no-local", str(repo), str(dest))
    git(
        dest,
        "fetch",
        "-q",
        "origin",
        "+refs/sia/*:refs/sia/*",
        "+refs/notes/*:refs/notes/*",
        "+refs/heads/sia/*:refs/heads/sia/*",
    )
    return dest


def all_blobs(clone: Path) -> dict[str, tuple[str, str]]:
    """Every object id -> (path, text) reachable from any ref of the clone."""
    listing = git(clone, "rev-list", "--objects", "--all").splitlines()
    paths = {line[:40]: line[41:] for line in listing}
    data = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=clone,
        capture_output=True,
        input="".join(f"{s}\n" for s in paths).encode(),
        check=True,
    ).stdout
    out, pos = {}, 0
    for sha in paths:
        end = data.index(b"\n", pos)
        _, kind, size = data[pos:end].split()
        pos = end + 1
        out[sha] = (paths[sha], data[pos : pos + int(size)].decode("utf-8", "replace"))
        pos += int(size) + 1
    return out


def attack(clone: Path, run_id: str) -> dict[str, str]:
    """Rebuild test labels from a clone: each candidate's stored submission (its trace) plus
    every per-item status stored anywhere (attempt records, notes, transcripts). A status of
    the candidate whose prediction is known gives the gold label of a binary item; statuses
    that cannot be tied to a candidate are used where every stored submission agrees. Falls
    back to the submission with the best Sia-Score-Test."""
    flip = {"True": "False", "False": "True"}
    preds: list[dict[str, str]] = []
    best: tuple[float, dict[str, str]] = (-1.0, {})
    inferred: dict[str, str] = {}
    loose: list[tuple[str, str]] = []
    attempts = git(clone, "for-each-ref", "--format=%(refname)", f"refs/sia/{run_id}/attempts/")
    for ref in attempts.split():
        record = json.loads(git(clone, "show", f"{ref}:attempt.json"))
        for cand in record["candidates"]:
            c = cand["candidate"]
            try:
                trace = git(clone, "show", f"{ref}:c{c}/work/trace.jsonl")
            except subprocess.CalledProcessError:
                continue
            p = {r["id"]: r["prediction"] for r in map(json.loads, trace.splitlines())}
            preds.append(p)
            test = cand.get("scores", {}).get("test")
            if test is not None and test > best[0]:
                best = (test, p)
            for items in cand.get("items", {}).values():
                for it in items:
                    if it["id"] in p:
                        inferred[it["id"]] = (
                            p[it["id"]] if it["status"] == "correct" else flip[p[it["id"]]]
                        )
    for _, text in all_blobs(clone).values():
        loose += STATUS.findall(text)
        for m in re.finditer(r'\{"id": "([^"]+)", "status": "(\w+)"\}', text):
            loose.append((m.group(1), m.group(2)))
    for item, status in loose:
        seen = {p[item] for p in preds if item in p}
        if len(seen) == 1 and status in ("correct", "wrong"):
            pred = seen.pop()
            inferred.setdefault(item, pred if status == "correct" else flip[pred])
    return {**best[1], **inferred}


def right(labels: dict[str, str], gold: dict[str, str], ids: set[str]) -> int:
    return sum(labels.get(i) == gold[i] for i in ids)


def evolve(sia: Runner, repo: Path, task: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return sia("evolve", "--accept", "1", "--task-dir", str(task), "--quiet", *args, cwd=repo)


def test_a_sia_task_run_selects_on_dev_and_a_clone_reveals_no_test_label(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    task_root = siatask.make(tmp_path / "passengers")
    task = load(task_root, source=str(task_root))
    gold = siatask.gold(task_root)
    sealed = {i for i in gold if task.plan.side(i) == "test"}
    with FakeLLM(script) as llm:
        done = evolve(
            sia,
            repo,
            task_root,
            "--model",
            MODEL,
            "--api-base",
            llm.api_base,
            "--max-gen",
            "4",
            "--candidates",
            "2",
            "--confirm-runs",
            "0",
        )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "test is sealed" in done.stdout
    [run_id] = run_ids(repo)

    # Every committed generation carries the dev score and its released sealed test score;
    # a rejected candidate carries no sealed score at all (it would be an oracle).
    commits = git(repo, "rev-list", f"refs/sia/{run_id}/base..sia/{run_id}").split()
    rejected = git(
        repo, "for-each-ref", "--format=%(objectname)", f"refs/sia/{run_id}/rejected/"
    ).split()
    assert len(commits) >= 2 and rejected
    for sha in commits:
        t = trailers(repo, sha)
        if t.get("Sia-Score", "none") != "none":
            assert "Sia-Score-Test" in t and "split dev, test sealed" in t["Sia-Metric"]
    for sha in rejected:
        assert "Sia-Score-Test" not in trailers(repo, sha)

    # The scripted agent called every read tool; what it was shown has no test item's status.
    shown = json.dumps(llm.requests)
    assert "failed items (id: status)" in shown and "Sia-Score-Test" not in shown
    named = {i for i, _ in STATUS.findall(shown.replace("\\n", "\n"))}
    assert named and not named & sealed

    clone = fresh_clone(repo, tmp_path / "clone")
    audit = sia("audit", "--run", run_id, "--task-dir", str(task_root), cwd=clone)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert f"{len(sealed)} sealed test items checked" in audit.stdout

    labels = attack(clone, run_id)
    stored = _stored_submissions(clone)
    best_right = max(right(p, gold, sealed) for p in stored)
    assert right(labels, gold, sealed) <= best_right

    # The attacker and the audit are not blind: one leaked note of test statuses (what
    # sia-git stored before this change) and both see it.
    leak = {
        "items": {
            "dev": [
                {"id": i, "status": "correct" if gold[i] == "True" else "wrong"}
                for i in sorted(sealed)
            ]
        }
    }
    git(repo, "notes", "--ref", "sia", "add", "-f", "-m", json.dumps(leak), commits[0])
    leaked = fresh_clone(repo, tmp_path / "leaked")
    audit = sia("audit", "--run", run_id, "--task-dir", str(task_root), cwd=leaked)
    assert audit.returncode == 1 and "links sealed test item" in audit.stdout
    assert right(attack(leaked, run_id), gold, sealed) > best_right


def _stored_submissions(clone: Path) -> list[dict[str, str]]:
    out = []
    for path, text in all_blobs(clone).values():
        if path.endswith("work/trace.jsonl"):
            out.append({r["id"]: r["prediction"] for r in map(json.loads, text.splitlines())})
    return out


def _agent(true_ids: set[str]) -> str:
    """An agent that predicts True exactly for `true_ids` (the test knows the answers)."""
    listed = "".join(f'    "{i}",\n' for i in sorted(true_ids))
    return siatask.AGENT.replace(
        "def predict(row):\n",
        f"TRUE_IDS = {{\n{listed}}}\n\n\ndef predict(row):\n"
        '    if row["PassengerId"] in TRUE_IDS:\n        return "True"\n'
        '    if row["PassengerId"]:\n        return "False"\n',
    )


def _right_on(gold: dict[str, str], ids: list[str], share: float) -> set[str]:
    """True ids of an agent that gets `share` of `ids` right."""
    k = round(share * len(ids))
    return {i for n, i in enumerate(ids) if (gold[i] == "True") == (n < k)}


def test_selection_uses_dev_whatever_the_test_score(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    task_root = siatask.make(tmp_path / "passengers", n_test=120)
    task = load(task_root, source=str(task_root))
    gold = siatask.gold(task_root)
    dev = sorted(i for i in gold if task.plan.side(i) == "dev")
    test = sorted(i for i in gold if task.plan.side(i) == "test")
    incumbent = _agent(_right_on(gold, dev, 0.6) | _right_on(gold, test, 0.6))
    # gen 2: better on test, worse on dev -> rejected; gen 3: better on dev, bad on test.
    test_better = _agent(_right_on(gold, dev, 0.5) | _right_on(gold, test, 1.0))
    dev_better = _agent(_right_on(gold, dev, 0.7) | _right_on(gold, test, 0.1))
    agents = {2: test_better, 3: dev_better}

    def rewrite(body: dict[str, Any], n: int) -> Reply:
        gen = int(re.search(r"for generation (\d+)", body["messages"][0]["content"]).group(1))
        steps = [tool("rewrite_agent_file", path="target_agent.py", content=agents[gen]), finish()]
        return steps[min(turn(body), 1)]

    seed = tmp_path / "incumbent.py"
    seed.write_text(incumbent)
    with FakeLLM(rewrite) as llm:
        done = evolve(
            sia,
            repo,
            task_root,
            "--agent",
            str(seed),
            "--model",
            MODEL,
            "--api-base",
            llm.api_base,
            "--allow-rewrite",
            "--max-gen",
            "3",
            "--candidates",
            "1",
            "--confirm-runs",
            "0",
        )
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    gen1, gen3 = git(repo, "rev-list", "--reverse", f"refs/sia/{run_id}/base..sia/{run_id}").split()
    [gen2] = git(
        repo, "for-each-ref", "--format=%(objectname)", f"refs/sia/{run_id}/rejected/"
    ).split()
    t1, t2, t3 = (trailers(repo, s) for s in (gen1, gen2, gen3))
    assert float(t1["Sia-Score"]) == pytest.approx(0.6, abs=0.01)
    assert "Sia-Score-Test" not in t2  # rejected: its (perfect) sealed score is never stored
    assert float(t2["Sia-Score"]) < float(t1["Sia-Score"])
    assert t2["Sia-Rejected"] == (
        f"{float(t2['Sia-Score']):.4f} does not beat the incumbent's {float(t1['Sia-Score']):.4f}"
    )
    assert t3["Sia-Generation"] == "3" and float(t3["Sia-Score"]) > float(t1["Sia-Score"])
    # Worse on test (0.1 against 0.6): the Ladder repeats the last released value.
    assert float(t3["Sia-Score-Test"]) == float(t1["Sia-Score-Test"]) <= 0.6


def test_a_metric_that_is_not_a_mean_runs_on_narrowed_answer_files(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    toml = '[metric]\nname = "f1"\n\n[evaluator]\nenv = {EVAL_METRIC = "f1"}\n'
    task_root = siatask.make(tmp_path / "passengers", task_toml=toml)
    task = load(task_root, source=str(task_root))
    gold = siatask.gold(task_root)
    done = evolve(sia, repo, task_root, "--max-gen", "2", "--candidates", "1")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "narrowed by 'PassengerId'" in done.stdout
    [run_id] = run_ids(repo)
    gen1 = git(repo, "rev-list", "--reverse", f"refs/sia/{run_id}/base..sia/{run_id}").split()[0]
    t = trailers(repo, gen1)
    assert "scored by narrow" in t["Sia-Metric"]
    ref = f"refs/sia/{run_id}/attempts/g0001"
    trace = git(repo, "show", f"{ref}:c0/work/trace.jsonl").splitlines()
    preds = {r["id"]: r["prediction"] for r in map(json.loads, trace)}
    for side, key in (("dev", "Sia-Score"), ("test", "Sia-Score-Test")):
        ids = [i for i in gold if task.plan.side(i) == side]
        tp = sum(preds[i] == "True" == gold[i] for i in ids)
        fp = sum(preds[i] == "True" != gold[i] for i in ids)
        fn = sum(preds[i] != "True" == gold[i] for i in ids)
        f1 = 2 * tp / (2 * tp + fp + fn)
        if side == "test":  # released on the grid of the sealed split's standard error
            f1 = sealed.on_grid(f1, sealed.step(len(ids)))
        assert float(t[key]) == pytest.approx(f1, abs=1e-4)
    files = git(repo, "ls-tree", "-r", "--name-only", ref).split()
    assert "c0/evaluator/dev.result.json" in files  # the dev run's own output is kept
    assert not [f for f in files if f.startswith("c0/evaluator/test")]
    run_toml = git(repo, "show", f"sia/{run_id}:sia-agent/run.toml")
    assert 'method = "narrow"' in run_toml and 'id_field = "PassengerId"' in run_toml
    audit = sia("audit", cwd=repo)
    assert audit.returncode == 0, audit.stderr


def test_a_task_that_cannot_be_split_is_refused_unless_the_user_selects_on_test(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    task_root = siatask.make(
        tmp_path / "passengers",
        task_toml='[metric]\nname = "f1"\n\n[evaluator]\nenv = {EVAL_METRIC = "f1"}\n',
    )
    answers = task_root / "data/private/test.csv"
    answers.write_text(answers.read_text().replace("PassengerId", "Passenger"))
    (task_root / "data/public/evaluate.py").write_text(
        siatask.EVALUATOR.replace(
            'r["PassengerId"]: r["Transported"] for r in csv.DictReader(f)}\n    pred',
            'r["Passenger"]: r["Transported"] for r in csv.DictReader(f)}\n    pred',
        )
    )
    done = evolve(sia, repo, task_root, "--max-gen", "2")
    assert done.returncode != 0
    [line] = done.stderr.strip().splitlines()
    assert "cannot be split into dev and test" in line and "--select-on-test" in line
    assert run_ids(repo) == []

    done = evolve(sia, repo, task_root, "--max-gen", "2", "--select-on-test")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "warning: --select-on-test" in done.stdout
    [run_id] = run_ids(repo)
    tip = trailers(repo, f"sia/{run_id}")
    assert "SELECTED ON THE TEST LABELS" in tip["Sia-Metric"] and "Sia-Score-Test" not in tip
    record = json.loads(git(repo, "show", f"refs/sia/{run_id}/attempts/g0001:attempt.json"))
    assert record["candidates"][0].get("items", {}) == {}  # no per-item status, even here
    assert "selected on the test labels" in sia("log", cwd=repo).stderr
    audit = sia("audit", "--task-dir", str(task_root), cwd=repo)
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_a_run_from_before_sealed_splits_is_labelled_and_not_resumed(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    task_root = siatask.make(tmp_path / "passengers")
    assert evolve(sia, repo, task_root, "--max-gen", "1").returncode == 0
    [run_id] = run_ids(repo)
    # What an older sia-git left: run.toml without [split]; nothing else differs.
    wt = tmp_path / "old"
    git(repo, "worktree", "add", "-q", "-f", str(wt), f"sia/{run_id}")
    toml = wt / "sia-agent/run.toml"
    toml.write_text(toml.read_text().split("\n[split]")[0] + "\n")
    git(wt, "commit", "-qam", "as an older sia-git wrote it")
    for cmd in (["log"], ["show", "1"], ["report", "--out", str(tmp_path / "r.html")]):
        out = sia(*cmd, cwd=repo)
        assert out.returncode == 0, out.stderr
        assert f"run {run_id} was made before sealed test splits" in out.stderr, cmd
    assert "made before sealed test splits" in (tmp_path / "r.html").read_text()
    assert json.loads(sia("log", "--json", cwd=repo).stdout)["warning"].startswith("run ")
    done = sia("evolve", "--run", run_id, "--max-gen", "2", cwd=repo)
    assert done.returncode != 0 and "start a new run" in done.stderr
    assert splits.LEGACY_NOTE in done.stderr


def test_a_resume_keeps_the_recorded_division(repo: Path, sia: Runner, tmp_path: Path) -> None:
    task_root = siatask.make(tmp_path / "passengers", task_toml="[splits]\ndev_fraction = 0.3\n")
    assert evolve(sia, repo, task_root, "--max-gen", "1").returncode == 0
    [run_id] = run_ids(repo)
    assert "30% dev" in trailers(repo, f"sia/{run_id}")["Sia-Metric"]
    # The task changes its mind; the run keeps the division it started with.
    (task_root / "data/task.toml").write_text("[splits]\ndev_fraction = 0.7\n")
    done = sia("evolve", "--run", run_id, "--max-gen", "3", "--quiet", cwd=repo)
    assert done.returncode == 0, done.stderr
    made = (
        git(repo, "rev-list", f"refs/sia/{run_id}/base..sia/{run_id}").split()
        + git(
            repo, "for-each-ref", "--format=%(objectname)", f"refs/sia/{run_id}/rejected/"
        ).split()
    )
    assert len(made) >= 3  # generations 2 and 3 were tried after the resume
    for sha in made:
        assert "30% dev" in trailers(repo, sha)["Sia-Metric"]
    assert "dev_fraction = 0.3" in git(repo, "show", f"sia/{run_id}:sia-agent/run.toml")
