"""Adapters of committed generations: list them, push the ones not on the hub yet, pull one.

What went to the hub is recorded as a git note (refs/notes/sia-hub) on the weights generation's
commit, so an upload that failed (hub down, no token) is simply one without a note: pending,
never lost, and `sia-git adapters push` finishes it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sia_git.core import tmpfiles
from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo
from sia_git.store import history as H
from sia_git.store import trailers as T
from sia_git.weights import pins
from sia_git.weights.hub import Card, Hub, HubError
from sia_git.weights.store import AdapterStore, digest, short


@dataclass(frozen=True)
class Trained:
    """A weights generation: the commit that trained (and pinned) an adapter."""

    run_id: str
    entry: H.Entry
    pin: pins.Pin

    @property
    def sha(self) -> str:
        return self.entry.sha


def store_of(repo: Repo) -> AdapterStore:
    return AdapterStore(repo.sia_dir / "adapters")


def trained(repo: Repo, run_ids: list[str]) -> list[Trained]:
    """Weights generations on the runs' branches (accepted, reverted too), oldest first."""
    out = []
    for run_id in run_ids:
        for e in H.load(repo, run_id).branch:
            if e.kind == "generation" and e.trailers.get(T.TRAIN) and e.adapter:
                pin = pins.read(repo, e.sha)
                if pin is not None and pin.address == e.adapter:
                    out.append(Trained(run_id, e, pin))
    return out


def card(t: Trained, task: str) -> Card:
    tr = t.entry.trailers
    return Card(
        t.pin.base_model,
        t.pin.base_revision,
        task,
        tr.get(T.SCORE, "?"),
        tr.get(T.METRIC, "?"),
        t.run_id,
        t.sha,
        t.pin.address,
        tr.get(T.TRAIN, "{}"),
    )


def push(repo: Repo, t: Trained, hub: Hub, *, task: str) -> dict[str, str]:
    """Upload (unless the tag is already there), tag, and record; HubError when it failed."""
    done = pins.hub_record(repo, t.sha)
    if done and done.get("repo") == hub.repo:
        return done
    folder = store_of(repo).get(t.pin.address)
    hub.ensure_repo()
    # A push killed after its upload finds its tag (or re-uploads: the same files).
    hub_commit = hub.resolve(t.sha) or hub.upload(folder, card(t, task))
    hub.tag(t.sha, hub_commit)
    record = {
        "repo": hub.repo,
        "endpoint": hub.endpoint,
        "hub_commit": hub_commit,
        "tag": t.sha,
        "address": t.pin.address,
    }
    pins.record_upload(repo, t.sha, record)
    return record


def push_pending(
    repo: Repo,
    items: list[Trained],
    hub_for: Callable[[Trained], Hub | None],
    *,
    task_of: Callable[[Trained], str],
    say: Callable[[str], None],
) -> int:
    """Push every item not on its hub yet; return how many are still pending."""
    left = 0
    for t in items:
        hub = hub_for(t)
        if hub is None:
            continue
        rec = pins.hub_record(repo, t.sha)
        if rec and rec.get("repo") == hub.repo:
            continue
        try:
            rec = push(repo, t, hub, task=task_of(t))
        except (HubError, SiaError) as exc:
            left += 1
            say(f"gen {t.entry.gen} {t.sha[:10]}: still pending: {exc}")
            continue
        say(
            f"gen {t.entry.gen} {t.sha[:10]}: {short(t.pin.address)} uploaded to "
            f"hf://{hub.repo}@{rec['hub_commit'][:10]}, tagged {t.sha[:10]}"
        )
    return left


def pull(repo: Repo, rev: str, hub_repo: str | None, *, endpoint: str | None) -> Path:
    """The exact adapter commit `rev` was scored with, in the local store (fetched from the hub
    when it is not there yet) and checked against its pin."""
    sha = repo.rev_parse(rev)
    if sha is None:
        raise SiaError(f"no such commit: {rev}")
    pin = pins.read(repo, sha)
    if pin is None:
        raise SiaError(
            f"{rev} runs no adapter (its tree has no {pins.PIN}): it is not a "
            "weights generation, nor a later one"
        )
    store = store_of(repo)
    if store.has(pin.address):
        return store.get(pin.address)
    source = pins.trained_by(repo, sha) or sha
    recorded = pins.hub_record(repo, source) or {}
    name = hub_repo or recorded.get("repo") or pin.hub_repo
    if not name:
        raise SiaError(
            f"adapter {short(pin.address)} is not stored here and no hub is known for it: "
            f"`sia-git adapters pull {sha[:10]} --hub-repo USER/NAME` fetches it"
        )
    hub = Hub(name, endpoint or recorded.get("endpoint"))
    with tempfile.TemporaryDirectory(prefix=tmpfiles.prefix("pull")) as tmp:
        folder = hub.download(source, Path(tmp) / "adapter")
        got = digest(folder)
        if got != pin.address:
            raise SiaError(
                f"hf://{name}@{source[:10]} holds {short(got)}, not the pinned "
                f"{short(pin.address)}: refusing it"
            )
        return store.get(store.put(folder))


def copy_to(folder: Path, dest: Path) -> Path:
    if dest.exists() and any(dest.iterdir()):
        raise SiaError(f"--to {dest}: the folder is not empty")
    shutil.copytree(folder, dest, dirs_exist_ok=True)
    for p in dest.rglob("*"):
        if p.is_file():
            p.chmod(0o644)
    return dest


def listing(repo: Repo, items: list[Trained]) -> list[dict[str, Any]]:
    store = store_of(repo)
    rows = []
    for t in items:
        rec = pins.hub_record(repo, t.sha)
        hub = (
            f"hf://{rec['repo']}@{rec['tag'][:10]}" if rec else "pending" if t.pin.hub_repo else "-"
        )
        rows.append(
            {
                "run": t.run_id,
                "generation": t.entry.gen,
                "commit": t.sha,
                "status": t.entry.status,
                "score": t.entry.score,
                "adapter": t.pin.address,
                "local": store.has(t.pin.address),
                "hub": hub,
                "train": json.loads(t.entry.trailers.get(T.TRAIN, "{}")),
            }
        )
    return rows
