"""`sia-git export mlflow` (sia_git/commands/export.py, sia_git/report/tracker.py): runs written
to a local MLflow file store and read back with MLflow's own client (mlflow-skinny, the
`mlflow` extra). Exporting twice, and again after the run grew, keeps one MLflow run per
sia-git run and never logs a point twice."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Runner, git

try:
    import mlflow.tracking as mlflow_tracking
except ImportError:  # a failure, not a skip: the README's test command installs the extra
    pytest.fail("mlflow-skinny is missing: pip install '.[mlflow]'", pytrace=False)


def _accepted_scores(repo: Path, run: str) -> dict[int, float]:
    """Each accepted generation's Sia-Score, read from the commits with git itself."""
    out = git(repo, "log", "--format=%(trailers:key=Sia-Generation,valueonly,separator=)"
              "%x1f%(trailers:key=Sia-Score,valueonly,separator=)",
              f"refs/sia/{run}/base..sia/{run}")  # fmt: skip
    pairs = [line.split("\x1f") for line in out.splitlines() if "\x1f" in line]
    return {int(g): float(s) for g, s in pairs if g.strip() and s.strip() not in ("", "none")}


def _runs(store: Path) -> dict[str, object]:
    client = mlflow_tracking.MlflowClient(tracking_uri=store.as_uri())
    exp = client.get_experiment_by_name("penguins")
    found = client.search_runs([exp.experiment_id])
    return {r.data.tags["sia.run"]: r for r in found}


def test_export_to_a_file_store_twice_gives_one_mlflow_run_per_run(
    repo: Path, sia: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # this test's own reading client
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    for name, gens in (("first", "3"), ("second", "2")):
        done = sia("evolve", "--task", "penguins", "--max-gen", gens, "--accept", "1",
                   "--confirm-runs", "0", "--name", name, cwd=repo)  # fmt: skip
        assert done.returncode == 0, done.stderr
    store = repo.parent / "mlruns"
    first = sia("export", "mlflow", "--tracking-uri", str(store), "--json", cwd=repo)
    assert first.returncode == 0, first.stderr
    assert all(r["created"] for r in json.loads(first.stdout)["runs"])
    runs = _runs(store)
    assert sorted(runs) == ["first", "second"]
    client = mlflow_tracking.MlflowClient(tracking_uri=store.as_uri())
    for name, mrun in runs.items():
        history = client.get_metric_history(mrun.info.run_id, "dev_score")
        assert {m.step: m.value for m in history} == pytest.approx(_accepted_scores(repo, name))
        assert mrun.data.params["task"] == "penguins"
        assert mrun.data.tags["sia.tip"] == git(repo, "rev-parse", f"sia/{name}").strip()
        assert (
            mrun.data.tags["sia.g0001"].split()[0]
            == git(repo, "rev-list", "--reverse", f"refs/sia/{name}/base..sia/{name}").split()[0]
        )
        listed = {a.path for a in client.list_artifacts(mrun.info.run_id, "notes")}
        assert "notes/g0001.md" in listed
        report = {a.path for a in client.list_artifacts(mrun.info.run_id, "report")}
        assert f"report/sia-report-{name}.html" in report
    # Again, unchanged: the same two MLflow runs, not one metric point more.
    again = sia("export", "mlflow", "--tracking-uri", str(store), cwd=repo)
    assert again.returncode == 0, again.stderr
    assert "updated MLflow run" in again.stdout and "(0 new metric points)" in again.stdout
    assert {n: r.info.run_id for n, r in _runs(store).items()} == {
        n: r.info.run_id for n, r in runs.items()
    }
    before = len(client.get_metric_history(runs["first"].info.run_id, "cost_usd"))
    # The run grows by a generation: its MLflow run gets that generation's points, only.
    more = sia("evolve", "--run", "first", "--max-gen", "4", "--accept", "1",
               "--confirm-runs", "0", cwd=repo)  # fmt: skip
    assert more.returncode == 0, more.stderr
    grown = sia("export", "mlflow", "--tracking-uri", str(store), "--run", "first", cwd=repo)
    assert grown.returncode == 0, grown.stderr
    after = _runs(store)
    assert after["first"].info.run_id == runs["first"].info.run_id and len(after) == 2
    cost = client.get_metric_history(runs["first"].info.run_id, "cost_usd")
    assert len(cost) == before + 1 and max(m.step for m in cost) == 4
    scores = client.get_metric_history(runs["first"].info.run_id, "dev_score")
    assert {m.step: m.value for m in scores} == pytest.approx(_accepted_scores(repo, "first"))


def test_export_without_a_run_is_one_clear_line(repo: Path, sia: Runner) -> None:
    done = sia("export", "mlflow", "--tracking-uri", str(repo.parent / "mlruns"), cwd=repo)
    assert done.returncode != 0
    assert "no sia-git runs in this repository" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_dead_server_or_a_missing_client_is_one_clear_line(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    """A tracking server that is not there (a loopback port nobody listens on) and an
    install without the mlflow extra (its import blocked) each give one line naming the fix."""
    done = sia("evolve", "--task", "penguins", "--max-gen", "1", cwd=repo)
    assert done.returncode == 0, done.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    dead = sia("export", "mlflow", "--tracking-uri", f"http://127.0.0.1:{port}", cwd=repo)
    assert dead.returncode != 0 and "Traceback" not in dead.stderr
    assert f"cannot connect to the MLflow tracking server at http://127.0.0.1:{port}" in (
        dead.stderr
    )
    blocked = tmp_path / "blocked" / "mlflow"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = {
        **os.environ,
        "PYTHONPATH": f"{blocked.parent}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    missing = subprocess.run(
        [sys.executable, "-m", "sia_git", "export", "mlflow", "--tracking-uri",
         str(tmp_path / "mlruns")], cwd=repo, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert "pip install '.[mlflow]'" in missing.stderr
