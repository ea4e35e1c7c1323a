"""The Hugging Face Hub, through huggingface_hub: upload an adapter with a model card, tag the
upload with the generation's commit SHA, and download exactly what a tag holds.

The endpoint is `hub_endpoint` or HF_ENDPOINT (huggingface.co otherwise); the token is HF_TOKEN
or the user's `hf auth login`, as huggingface_hub finds them. Every failure is a `HubError`
with one line saying what went wrong; callers keep the upload pending.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sia_git.core import tmpfiles
from sia_git.core.errors import SiaError

DEFAULT_ENDPOINT = "https://huggingface.co"


class HubError(SiaError):
    pass


@dataclass(frozen=True)
class Card:
    """What the model card says about an adapter."""

    base_model: str
    base_revision: str
    task: str
    score: str
    metric: str
    run: str
    commit: str
    address: str
    hparams: str

    def render(self) -> str:
        base = self.base_model.removeprefix("package:")
        return (
            f"---\nlibrary_name: peft\ntags:\n- sia-git\n- lora\n---\n\n"
            f"# sia-git adapter for task `{self.task}`\n\n"
            f"A LoRA adapter trained by sia-git's weights lever, for the base model "
            f"`{base}` (revision `{self.base_revision}`).\n\n"
            f"| | |\n|---|---|\n| task | `{self.task}` |\n| score | {self.score} "
            f"({self.metric}) |\n| run | `{self.run}` |\n| commit | `{self.commit}` |\n"
            f"| content hash | `{self.address}` |\n| training | `{self.hparams}` |\n\n"
            f"The tag `{self.commit}` on this repository is the generation's commit: "
            f"`sia-git adapters pull {self.commit[:10]}` in a clone of the run gets exactly "
            "these weights and checks them against the hash.\n"
        )


class Hub:
    def __init__(self, repo: str, endpoint: str | None = None) -> None:
        from huggingface_hub import HfApi

        self.repo = repo
        self.endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        self.api = HfApi(endpoint=self.endpoint, library_name="sia-git")

    def upload(self, folder: Path, card: Card) -> str:
        """Upload the adapter and its card; return the hub commit."""
        with tempfile.TemporaryDirectory(prefix=tmpfiles.prefix("hub")) as tmp:
            staged = Path(tmp) / "adapter"
            shutil.copytree(folder, staged)
            (staged / "README.md").write_text(card.render(), encoding="utf-8")
            info: Any = self._call(
                "upload",
                lambda: self.api.upload_folder(
                    repo_id=self.repo,
                    folder_path=staged,
                    repo_type="model",
                    commit_message=(
                        f"sia-git: adapter of {card.run} at {card.commit[:10]} "
                        f"({card.address[:19]})"
                    ),
                ),
            )
        return str(info.oid)

    def ensure_repo(self) -> None:
        self._call(
            "create", lambda: self.api.create_repo(self.repo, repo_type="model", exist_ok=True)
        )

    def tag(self, commit_sha: str, hub_commit: str) -> None:
        """Tag `hub_commit` with the generation's SHA; an existing tag on the same upload is
        fine (a retried push)."""
        from huggingface_hub.errors import HfHubHTTPError

        try:
            self.api.create_tag(
                self.repo,
                tag=commit_sha,
                revision=hub_commit,
                repo_type="model",
                tag_message=f"sia-git generation {commit_sha}",
            )
        except HfHubHTTPError as exc:
            if getattr(exc.response, "status_code", None) != 409:
                raise HubError(f"hub {self.endpoint}: tagging {self.repo}: {_why(exc)}") from None
            if self.resolve(commit_sha) != hub_commit:
                raise HubError(
                    f"hub {self.endpoint}: tag {commit_sha[:10]} in {self.repo} "
                    "already points at another upload"
                ) from None
        except Exception as exc:
            raise HubError(f"hub {self.endpoint}: tagging {self.repo}: {_why(exc)}") from None

    def resolve(self, revision: str) -> str | None:
        refs = self._call("list tags", lambda: self.api.list_repo_refs(self.repo))
        return next((t.target_commit for t in refs.tags if t.name == revision), None)

    def download(self, revision: str, dest: Path) -> Path:
        from huggingface_hub import snapshot_download

        self._call(
            "download",
            lambda: snapshot_download(
                self.repo, revision=revision, local_dir=dest, endpoint=self.endpoint
            ),
        )
        return dest

    def _call(self, what: str, fn: Any) -> Any:
        try:
            return fn()
        except HubError:
            raise
        except Exception as exc:  # network, HTTP and auth errors all leave the upload pending
            raise HubError(f"hub {self.endpoint}: {what} {self.repo}: {_why(exc)}") from None


def _why(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
