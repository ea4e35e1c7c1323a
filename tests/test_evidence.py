"""store/evidence.py: the paired test that decides whether a gain is more than noise, its
false-acceptance rate, and the `Sia-Evidence` trailer recomputed from stored results."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from sia_git.store import evidence
from sia_git.tasks.task import resolve
from tests.conftest import Runner, git, run_ids


def test_the_exact_mcnemar_p_value() -> None:
    assert evidence.mcnemar_p(5, 0) == pytest.approx(1 / 32)
    assert evidence.mcnemar_p(0, 0) == 1.0
    assert evidence.mcnemar_p(0, 5) == 1.0  # one-sided: losses are never a gain
    assert evidence.mcnemar_p(3, 3) == pytest.approx(42 / 64)


def test_the_levels_of_any_number_of_generations_sum_to_at_most_alpha() -> None:
    total = sum(evidence.level(0.05, k, 3) * 3 for k in range(1, 100_000))
    assert 0.0499 < total <= 0.05
    assert evidence.level(1.0, 7, 3) == 1.0


def test_re_runs_are_pooled_item_by_item() -> None:
    inc = {"a": True, "b": False, "c": False, "d": True}
    runs = [{"a": True, "b": True, "c": False, "d": True}, {"a": False, "b": True, "c": True}]
    ev = evidence.paired(inc, runs, lvl=0.01)
    assert ev is not None and (ev.n, ev.wins, ev.losses) == (7, 3, 1)
    assert evidence.paired(inc, [{"z": True}], lvl=0.01) is None


def test_the_trailer_reads_back_to_the_same_evidence() -> None:
    ev = evidence.Evidence(442, 30, 11, 0.0061)
    back = evidence.parse(ev.trailer())
    assert back == ev and back.trailer() == ev.trailer()
    assert ev.trailer().startswith("+0.0430 [")
    assert evidence.parse("+0.0100 unpaired") is None and evidence.parse(None) is None


def test_pure_noise_is_almost_never_accepted_however_long_the_run() -> None:
    """2,000 simulated runs of 20 generations x 3 candidates on 80 items whose every result is
    a coin flip: the share of runs that accept anything at all stays under alpha (5%). The old
    rule (any higher score) accepts in nearly all of them."""
    rng = random.Random(0)
    runs, n = 2000, 80
    any_accepted = old_rule = 0
    for _ in range(runs):
        inc = {str(i): rng.random() < 0.5 for i in range(n)}
        accepted = old = False
        for k in range(1, 21):
            cands = [{str(i): rng.random() < 0.5 for i in range(n)} for _ in range(3)]
            best = max(cands, key=lambda c: sum(c.values()))
            ev = evidence.paired(inc, [best], lvl=evidence.level(0.05, k, 3))
            assert ev is not None
            old = old or sum(best.values()) > sum(inc.values())
            if ev.gain > 0 and ev.significant:
                accepted = True
                break
        any_accepted += accepted
        old_rule += old
    assert any_accepted / runs <= 0.05, any_accepted / runs
    assert old_rule / runs > 0.9


NOISE_EVALUATOR = '''\
"""An evaluator whose every item is a coin flip: no agent can be better than another. The coins
are seeded by the predictions file, so the same agent always gets the same results (as from a
real evaluator) and the whole run is reproducible; a changed agent gets fresh coins."""
import argparse, csv, hashlib, json, random
from pathlib import Path

p = argparse.ArgumentParser()
for flag in ("--predictions", "--answers", "--split", "--output"):
    p.add_argument(flag)
a = p.parse_args()
with open(Path(a.answers) / f"{a.split}.csv", encoding="utf-8") as f:
    ids = [r["id"] for r in csv.DictReader(f)]
made = Path(a.predictions) / "predictions" / f"{a.split}.csv"
seen = made.read_bytes() if made.is_file() else b""
rng = random.Random(hashlib.sha256(seen).hexdigest())
items = [{"id": i, "status": "correct" if rng.random() < 0.5 else "wrong"} for i in ids]
right = sum(i["status"] == "correct" for i in items)
Path(a.output).write_text(json.dumps({"score": right / len(ids), "metrics": {}, "items": items}))
'''


def noise_task(tmp_path: Path) -> Path:
    dest = tmp_path / "noise"
    shutil.copytree(resolve("penguins", None).root, dest)
    (dest / "evaluate.py").write_text(NOISE_EVALUATOR)
    toml = (dest / "task.toml").read_text().replace('name = "penguins"', 'name = "noise"')
    toml = toml.replace('builtin = "accuracy"', 'path = "evaluate.py"')
    (dest / "task.toml").write_text(toml)
    return dest


@pytest.mark.slow
def test_twenty_generations_on_a_task_no_candidate_can_improve_accept_nothing(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    """Every item's score is a coin flip, so every "gain" is noise: 20 generations of the knob
    search (2 candidates each) commit nothing past generation 1. Each best candidate's paired
    evidence is in its attempt record, and every one of them is recomputed from the per-item
    results stored beside it."""
    done = sia(
        "evolve", "--task-dir", str(noise_task(tmp_path)), "--max-gen", "21",
        "--candidates", "2", "--confirm-runs", "0", cwd=repo, timeout=1500,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    branch = git(repo, "rev-list", f"refs/sia/{run_id}/base..sia/{run_id}").split()
    assert len(branch) == 1, done.stdout  # generation 1 alone
    rows = json.loads(sia("log", "--json", cwd=repo).stdout)["rows"]
    assert max(r["gen"] for r in rows) == 21
    first = _record(repo, run_id, 1)["candidates"][0]["items"]["dev"]
    weighed = 0
    for gen in range(2, 22):
        for cand in _record(repo, run_id, gen)["candidates"]:
            if not cand["evidence"]:
                continue
            weighed += 1
            stored = evidence.parse(cand["evidence"])
            again = evidence.paired(
                evidence.statuses(first), [evidence.statuses(cand["items"]["dev"])],
                lvl=stored.level if stored else None,
            )  # fmt: skip
            assert again == stored and "within noise" in cand["verdict"]
    assert weighed >= 5  # the noise beat the incumbent's score often enough to be weighed


def _record(repo: Path, run_id: str, gen: int) -> dict:
    out = subprocess.run(
        ["git", "show", f"refs/sia/{run_id}/attempts/g{gen:04d}:attempt.json"],
        cwd=repo, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)
