"""Run one training job as a child process: limits, a wall clock, progress relayed to the run's
output, and the adapter put in the content-addressed store. A failure is a result, not an
exception, so the loop records it as the candidate's outcome."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sia_git.core import childenv, faults
from sia_git.sandbox.procs import Finished, Limits, run_limited
from sia_git.weights.job import MANIFEST, Job
from sia_git.weights.store import AdapterStore

PROGRESS_EVERY_S = 5.0
# A training process gets room beyond its time limit to save the adapter and exit.
GRACE_S = 120.0


@dataclass
class Training:
    address: str | None  # the stored adapter, None when training failed
    record: dict[str, Any] = field(default_factory=dict)  # sia_adapter.json
    error: str = ""
    seconds: float = 0.0
    log: bytes = b""


def run(
    job: Job, scratch: Path, store: AdapterStore, *, memory_mb: int, say: Callable[[str], None]
) -> Training:
    scratch.mkdir(parents=True, exist_ok=True)
    Path(job.out_dir).mkdir(parents=True, exist_ok=True)
    job_file = scratch / "job.json"
    job.dump(job_file)
    out, err = scratch / "train-stdout.jsonl", scratch / "train-stderr.txt"
    env = _env(job)
    cores = os.cpu_count() or 1
    wall = job.max_seconds + GRACE_S
    limits = Limits(
        timeout_s=wall,
        memory_mb=memory_mb,
        cpu_s=int(wall * cores) + 30,
        file_size_mb=4096,
        open_files=1024,
        max_procs=4096,
    )
    argv = [sys.executable, "-m", "sia_git.weights.train", str(job_file)]
    done: list[Finished] = []
    worker = threading.Thread(
        target=lambda: done.append(
            run_limited(argv, env, scratch, limits=limits, stdout=out, stderr=err)
        ),
        daemon=True,
    )
    start = time.monotonic()
    worker.start()
    faults.point("training")
    _relay(worker, out, say)
    finished = done[0] if done else None
    seconds = time.monotonic() - start
    log = _read(out) + b"\n--- stderr ---\n" + _read(err)[-65536:]
    events = _events(out)
    last = events[-1] if events else {}
    if finished is None or finished.timed_out:
        return Training(
            None, error=f"training did not finish within {wall:g} s", seconds=seconds, log=log
        )
    if finished.exit_code != 0 or last.get("event") != "done":
        why = last.get("error") or _tail(err) or f"exit code {finished.exit_code}"
        return Training(None, error=f"training failed: {why}", seconds=seconds, log=log)
    folder = Path(job.out_dir)
    record = json.loads((folder / MANIFEST).read_text())
    return Training(store.put(folder), record, seconds=seconds, log=log)


def _env(job: Job) -> dict[str, str]:
    env = childenv.scrubbed()
    env.pop("SIA_GIT_FAULT", None)  # fault points are sia-git's own, not the trainer's
    if Path(job.base).is_dir():
        # Everything is local: make sure no library reaches for the network.
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def _relay(worker: threading.Thread, out: Path, say: Callable[[str], None]) -> None:
    """Say the latest training step at most every PROGRESS_EVERY_S, and only once: a slow
    step is one line in a pipe, not one per interval."""
    shown, last = 0.0, None
    while worker.is_alive():
        worker.join(timeout=0.5)
        now = time.monotonic()
        if now - shown < PROGRESS_EVERY_S:
            continue
        events = [e for e in _events(out) if e.get("event") == "progress"]
        if events and (events[-1].get("epoch"), events[-1].get("step")) != last:
            e = events[-1]
            last = (e.get("epoch"), e.get("step"))
            shown_values = ", ".join(
                f"{k} {v:.4f}"
                for k, v in e.items()
                if k not in ("event", "epoch", "epochs", "step", "steps")
            )
            say(
                f"training: epoch {e['epoch']}/{e['epochs']}, step {e['step']}/{e['steps']}, "
                f"{shown_values}"
            )
            shown = now


def _events(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in _read(path).decode("utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            out.append(event)
    return out


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _tail(path: Path) -> str:
    lines = _read(path).decode("utf-8", errors="replace").strip().splitlines()
    return lines[-1][:500] if lines else ""
