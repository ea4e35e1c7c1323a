"""Adapters on the Hugging Face Hub: uploaded with a model card and the set they trained on,
tagged with the generation's commit SHA, listed, pulled into a clone (training set included)
and re-scored to the committed numbers; kept pending
when the hub is down or refuses, and pushed later.

The hub is tests/fakehub.py, a Hub-compatible HTTP server on 127.0.0.1 that stands in for
huggingface.co; the client is the real huggingface_hub, pointed at it with HF_ENDPOINT and
authenticated with HF_TOKEN, as a user's would be.
"""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest

from sia_git.weights import dataset
from tests.conftest import Runner, git, run_ids
from tests.fakehub import FakeHub
from tests.test_evolve import branch_commits, trailers

pytestmark = pytest.mark.slow
TOKEN = "hf_testtokenabcdefghijklmnopqrstuvwx"
WEIGHTS = ("--lever", "weights", "--candidates", "1", "--confirm-runs", "0", "--max-gen", "2")


def ids(path: Path) -> set[str]:
    with path.open(encoding="utf-8", newline="") as f:
        return {r["id"] for r in csv.DictReader(f)}


def env(hub: FakeHub, token: str = TOKEN) -> dict[str, str]:
    return {"HF_ENDPOINT": hub.endpoint, "HF_TOKEN": token, "HF_HUB_DISABLE_TELEMETRY": "1"}


def weights_commit(repo: Path) -> tuple[str, str]:
    [run_id] = run_ids(repo)
    gen2 = branch_commits(repo, run_id)[-1]
    assert trailers(repo, gen2)["Sia-Lever"] == "weights"
    return run_id, gen2


def clone_with_runs(repo: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(repo), str(dest)], check=True)
    git(
        dest,
        "fetch",
        "-q",
        "origin",
        "refs/heads/sia/*:refs/heads/sia/*",
        "refs/sia/*:refs/sia/*",
        "refs/notes/*:refs/notes/*",
    )
    return dest


def test_an_accepted_adapter_goes_to_the_hub_and_a_clone_pulls_and_rescores_it(
    repo: Path, sia: Runner, tiny_task: Path, tmp_path: Path
) -> None:
    with FakeHub(token=TOKEN) as hub:
        done = sia(
            "evolve",
            "--task-dir",
            str(tiny_task),
            "--hub-repo",
            "me/adapters",
            *WEIGHTS,
            cwd=repo,
            env=env(hub),
        )
        assert done.returncode == 0, done.stderr + done.stdout
        run_id, gen2 = weights_commit(repo)
        address = trailers(repo, gen2)["Sia-Adapter"]
        assert address.endswith(" hf://me/adapters")
        address = address.split()[0]
        assert "uploaded to hf://me/adapters@" in done.stdout

        # Tagged with the commit SHA; exactly the stored files, plus a model card.
        files = hub.files("me/adapters", gen2)
        stored = repo / ".git" / "sia" / "adapters" / address.removeprefix("sha256:")
        for f in stored.iterdir():
            assert files[f.name] == f.read_bytes()
        card = files["README.md"].decode()
        for fact in (
            str(tiny_task.parent / "model"),
            "tiny-words",
            trailers(repo, gen2)["Sia-Score"],
            run_id,
            gen2,
            address,
        ):
            assert fact in card
        note = json.loads(git(repo, "notes", "--ref", "sia-hub", "show", gen2))
        assert note["tag"] == gen2 and note["repo"] == "me/adapters"
        listed = json.loads(sia("adapters", "list", "--json", cwd=repo).stdout)
        assert listed[0]["hub"] == f"hf://me/adapters@{gen2[:10]}"

        # A clone has the pins but not the weights: pull fetches them, checks them, and the
        # commit re-scores to exactly its committed numbers.
        clone = clone_with_runs(repo, tmp_path / "clone")
        assert not (clone / ".git" / "sia" / "adapters").exists()
        pulled = sia(
            "adapters",
            "pull",
            gen2[:10],
            "--to",
            str(tmp_path / "out"),
            cwd=clone,
            env=env(hub, token=""),
        )
        assert pulled.returncode == 0, pulled.stderr
        assert Path(pulled.stdout.strip()) == tmp_path / "out"
        assert (tmp_path / "out" / "adapter_model.safetensors").read_bytes() == (
            stored / "adapter_model.safetensors"
        ).read_bytes()
        # The data behind the weights came with them (it was pushed with them: every stored
        # file is on the hub, above), and it holds train items only.
        trained = {r["id"] for r in dataset.read(tmp_path / "out")}
        assert trained == ids(tiny_task / "public" / "train.csv")
        assert not trained & (ids(tiny_task / "private" / "dev.csv")
                              | ids(tiny_task / "private" / "test.csv"))  # fmt: skip
        # The clone did not start the run: the person evaluating names its task.
        done = sia("eval", gen2, "--json", "--task-dir", str(tiny_task), cwd=clone, env=env(hub))
        assert done.returncode == 0, done.stderr
        rescored = json.loads(done.stdout)
    assert rescored["adapter"] == address
    committed = trailers(repo, gen2)
    assert [r["split"] for r in rescored["splits"]] == ["dev", "test"]
    dev, test = rescored["splits"]
    assert dev["score"] == dev["committed"], rescored
    assert test["sealed"] and test["score"] is None  # never scored afresh: no oracle
    assert rescored["splits"][0]["score"] == float(committed["Sia-Score"])


def test_a_hub_that_is_down_or_refuses_leaves_uploads_pending_until_push(
    repo: Path, sia: Runner, tiny_task: Path
) -> None:
    with FakeHub(token=TOKEN) as hub:
        hub.down = True
        done = sia(
            "evolve",
            "--task-dir",
            str(tiny_task),
            "--hub-repo",
            "me/adapters",
            *WEIGHTS,
            cwd=repo,
            env=env(hub),
        )
        assert done.returncode == 0, done.stderr
        assert "1 adapter(s) not on the hub yet" in done.stdout
        run_id, gen2 = weights_commit(repo)  # committed all the same
        listed = json.loads(sia("adapters", "list", "--json", cwd=repo).stdout)
        assert listed[0]["hub"] == "pending" and listed[0]["local"]

        hub.down = False
        refused = sia("adapters", "push", cwd=repo, env=env(hub, token="hf_wrong"))
        assert refused.returncode != 0 and "Traceback" not in refused.stderr
        assert "1 adapter(s) still pending" in refused.stderr
        assert "still pending" in refused.stdout and "401" in refused.stdout
        assert "me/adapters" not in hub.repos or not hub.repos["me/adapters"].tags

        pushed = sia("adapters", "push", cwd=repo, env=env(hub))
        assert pushed.returncode == 0, pushed.stderr
        assert hub.repos["me/adapters"].tags.keys() == {gen2}
        again = sia("adapters", "push", cwd=repo, env=env(hub))
        assert again.returncode == 0 and "1 adapter(s) on the hub" in again.stdout


def test_an_offline_run_stores_adapters_and_a_later_push_uploads_them(
    repo: Path, sia: Runner, tiny_task: Path, tmp_path: Path
) -> None:
    done = sia("evolve", "--task-dir", str(tiny_task), *WEIGHTS, cwd=repo)
    assert done.returncode == 0, done.stderr
    run_id, gen2 = weights_commit(repo)
    assert trailers(repo, gen2)["Sia-Adapter"].startswith("sha256:")
    no_hub = sia("adapters", "push", cwd=repo)
    assert no_hub.returncode != 0 and "pass --hub-repo user/name" in no_hub.stderr
    with FakeHub(token=TOKEN) as hub:
        pushed = sia("adapters", "push", "--hub-repo", "me/later", cwd=repo, env=env(hub))
        assert pushed.returncode == 0, pushed.stderr
        assert gen2 in hub.repos["me/later"].tags
        # A clone pulls from where the push put it; a tampered upload is refused.
        clone = clone_with_runs(repo, tmp_path / "clone")
        hub_commit = hub.repos["me/later"].tags[gen2]
        good = hub.repos["me/later"].commits[hub_commit]["adapter_model.safetensors"]
        hub.repos["me/later"].commits[hub_commit]["adapter_model.safetensors"] = b"x" + good
        bad = sia("adapters", "pull", gen2, cwd=clone, env=env(hub))
        assert bad.returncode != 0 and "refusing it" in bad.stderr
        hub.repos["me/later"].commits[hub_commit]["adapter_model.safetensors"] = good
        assert sia("adapters", "pull", gen2, cwd=clone, env=env(hub)).returncode == 0
    not_weights = sia("adapters", "pull", branch_commits(repo, run_id)[0], cwd=repo)
    assert not_weights.returncode != 0 and "runs no adapter" in not_weights.stderr
