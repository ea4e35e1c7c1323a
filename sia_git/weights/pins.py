"""Which adapter a commit runs with: `sia-agent/adapter.json` in its tree.

Being a file, the pin travels the way code does: later generations inherit it, and `git revert`
of a weights generation takes its adapter away again. The commit that last changed the file is
the weights generation that trained the adapter (and whose SHA tags it on the hub).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo
from sia_git.store import refs
from sia_git.store.runs import AGENT_DIR

PIN = f"{AGENT_DIR}/adapter.json"
HUB_NOTES = refs.HUB_NOTES  # where an adapter's upload is recorded, on its commit


@dataclass(frozen=True)
class Pin:
    address: str  # sha256:<hex> of the adapter's files
    base_model: str
    base_revision: str
    objective: str
    hub_repo: str | None = None  # where it belongs on the hub, when one is configured

    def dump(self) -> bytes:
        return (json.dumps(asdict(self), indent=1, sort_keys=True) + "\n").encode()


def read(repo: Repo, rev: str) -> Pin | None:
    text = repo.read_file(rev, PIN)
    if text is None:
        return None
    try:
        return Pin(**json.loads(text))
    except (ValueError, TypeError) as exc:
        raise SiaError(f"{rev[:10]}:{PIN} is not a valid adapter pin: {exc}") from None


def trained_by(repo: Repo, rev: str) -> str | None:
    """The weights generation that trained the adapter `rev` runs with."""
    return repo.last_change(rev, PIN)


def hub_record(repo: Repo, sha: str) -> dict[str, str] | None:
    """What `adapters push` recorded for a weights generation: repo, hub commit, tag."""
    text = repo.note(sha, HUB_NOTES)
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def record_upload(repo: Repo, sha: str, record: dict[str, str]) -> None:
    repo.add_note(sha, json.dumps(record, sort_keys=True), HUB_NOTES)
