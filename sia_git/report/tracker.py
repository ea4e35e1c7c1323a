"""Writing a run to an MLflow tracking store with MLflow's own client (mlflow-skinny, the
`mlflow` extra). Only this module imports mlflow. A sia-git run is one MLflow run, found again
by its `sia.run` and `sia.base` tags, so exporting twice updates it: parameters already there
are kept, a metric point already there (same key, step and value) is not logged again, and
artifacts are overwritten by path."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sia_git.core.errors import SiaError

INSTALL = "pip install 'sia-git[mlflow]' (from a checkout: pip install '.[mlflow]')"
PARAM_MAX = 6000  # MLflow's limit on a parameter's value


@dataclass
class TrackedRun:
    """What one sia-git run exports: all strings and numbers, no git objects."""

    run_id: str
    base: str
    experiment: str
    params: dict[str, str]
    tags: dict[str, str]
    # (key, step, value, timestamp in ms): a generation's number is its step
    metrics: list[tuple[str, int, float, int]]
    files: dict[str, bytes] = field(default_factory=dict)  # artifact path -> content


@dataclass(frozen=True)
class Written:
    mlflow_run_id: str
    created: bool
    metrics_logged: int
    params_kept: list[str]  # parameters already there with another value (left as they were)


def store_uri(given: str) -> str:
    """A tracking URI: a URL as given, a plain path as its absolute file: URI."""
    if "://" in given or given.startswith(("file:", "databricks")):
        return given
    return Path(given).expanduser().resolve().as_uri()


@contextmanager
def _client(uri: str) -> Iterator[Any]:
    # Before mlflow is imported: no usage telemetry leaves this machine, a dead server fails
    # in seconds rather than after minutes of retries, and a local folder store (MLflow 3
    # keeps it in maintenance mode, refusing it unless asked) is what the user named.
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ["DO_NOT_TRACK"] = "true"
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    if uri.startswith("file:"):
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise SiaError(f"export to MLflow needs MLflow's client: {INSTALL}") from None
    try:
        yield MlflowClient(tracking_uri=uri)
    except MlflowException as exc:
        text = str(exc.message).strip()
        if "Max retries exceeded" in text or "Failed to establish" in text:
            raise SiaError(
                f"cannot connect to the MLflow tracking server at {uri}; "
                "is it running, and is --tracking-uri its address?"
            ) from None
        first = text.splitlines()[0] if text else type(exc).__name__
        raise SiaError(f"MLflow at {uri}: {first[:300]}") from None


def write(uri: str, runs: list[TrackedRun]) -> list[Written]:
    with _client(uri) as client:
        return [_write_one(client, r) for r in runs]


def _write_one(client: Any, run: TrackedRun) -> Written:
    exp = client.get_experiment_by_name(run.experiment)
    exp_id = exp.experiment_id if exp else client.create_experiment(run.experiment)
    query = f"tags.`sia.run` = '{run.run_id}' and tags.`sia.base` = '{run.base}'"
    found = client.search_runs([exp_id], query, max_results=2)
    created = not found
    mrun = client.create_run(exp_id, run_name=run.run_id) if created else found[0]
    rid = mrun.info.run_id
    have = dict(mrun.data.params) if not created else {}
    kept = [k for k, v in run.params.items() if k in have and have[k] != v]
    new_params = {k: v[:PARAM_MAX] for k, v in run.params.items() if k not in have}
    logged = _new_points(client, rid, run.metrics)
    from mlflow.entities import Metric, Param, RunTag

    client.log_batch(
        rid,
        metrics=[Metric(k, v, ts, step) for k, step, v, ts in logged],
        params=[Param(k, v) for k, v in new_params.items()],
        tags=[RunTag(k, v) for k, v in run.tags.items()],
    )
    if run.files:
        with tempfile.TemporaryDirectory(prefix="sia-mlflow-") as tmp:
            for rel, content in run.files.items():
                path = Path(tmp, rel)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
            client.log_artifacts(rid, tmp)
    client.set_terminated(rid, "FINISHED")
    return Written(rid, created, len(logged), kept)


def _new_points(
    client: Any, rid: str, points: list[tuple[str, int, float, int]]
) -> list[tuple[str, int, float, int]]:
    """The metric points not in the run yet (a second export logs none of the first's)."""
    seen: dict[str, set[tuple[int, float]]] = {}
    for key in {p[0] for p in points}:
        history = client.get_metric_history(rid, key)
        seen[key] = {(m.step, m.value) for m in history}
    return [p for p in points if (p[1], p[2]) not in seen[p[0]]]
