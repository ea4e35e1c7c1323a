"""What a task says about its model (`[weights]` in task.toml) and where that model is on disk."""

from __future__ import annotations

import hashlib
import re
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sia_git.core.errors import SiaError

PACKAGE = "package:"
# Files that make up a model's weights and config; others (READMEs, .gitattributes) do not count
# towards its revision.
_MODEL_SUFFIXES = (".json", ".safetensors", ".bin", ".gguf", ".txt", ".model")


class WeightsSpec(BaseModel):
    """`[weights]` in task.toml: the base model the agent runs and how to train an adapter."""

    model_config = ConfigDict(extra="forbid")

    # A transformers model id, a folder, or `package:<distribution>` for a model that ships in
    # an installed Python package (found offline).
    base_model: str = Field(min_length=1)
    gguf_file: str | None = None  # a GGUF checkpoint inside the base model's folder
    # classification: supervised, a sequence-classification head over the labels. For a causal
    # LM: sft, supervised on the gold labels as answers (weights/supervised.py); rft, on the
    # model's own sampled replies the evaluator judged correct (weights/rejection.py); grpo (or
    # its old name, generation), sampled answers rewarded by the evaluator (generation.py).
    objective: Literal["classification", "sft", "rft", "grpo", "generation"] = "classification"
    train_file: str = "train.csv"  # in the task's public folder
    id_column: str = "id"
    text_column: str = "text"
    label_column: str = "label"
    max_length: int = Field(default=64, ge=4, le=4096)
    max_new_tokens: int = Field(default=16, ge=1, le=4096)  # generation: answer length
    # generation: "chat" trains on the harness's template as a chat user message (the way a
    # served model sees an agent's request), "plain" on the template's text as it is.
    prompt_format: Literal["plain", "chat"] = "plain"
    # generation: the answer in a sampled reply is the first match of this regular expression
    # (its first group if it has one), lower-cased; without it, the reply's first line.
    answer_pattern: str | None = None

    @field_validator("answer_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    target_modules: list[str] = Field(default_factory=lambda: ["query", "value"])
    # The task's own defaults for the LoRA settings (HParams below): the first weights
    # candidate trains with them, and the search starts from them.
    hparams: dict[str, Any] = Field(default_factory=dict)

    @field_validator("hparams")
    @classmethod
    def _known(cls, value: dict[str, Any]) -> dict[str, Any]:
        HParams.model_validate(value)
        return value


class HParams(BaseModel):
    """One weights candidate's training settings (the `Sia-Train` trailer)."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(default=8, ge=1, le=256)
    alpha_ratio: float = Field(default=2.0, gt=0, le=64)  # lora_alpha = r * alpha_ratio
    dropout: float = Field(default=0.1, ge=0, lt=1)
    lr: float = Field(default=2e-3, gt=0, le=1)
    epochs: int = Field(default=2, ge=1, le=100)
    batch_size: int = Field(default=32, ge=1, le=1024)
    seed: int = 0
    # Go on from the incumbent's adapter instead of starting from the base model.
    continue_from_incumbent: bool = False
    group_size: int = Field(default=4, ge=2, le=64)  # generation: answers sampled per prompt
    temperature: float = Field(default=1.0, gt=0, le=2)  # generation: how answers are sampled
    # grpo: weight of an entropy bonus on the answer tokens, against collapse to one answer
    entropy: float = Field(default=0.0, ge=0, le=1)

    @classmethod
    def parse(cls, data: dict[str, Any], origin: str) -> HParams:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"]) or "?"
            msg = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
            raise SiaError(f"{origin}: {key}: {msg}") from None


def resolve_base(spec: WeightsSpec) -> Path:
    """The base model's folder: the one named, the one inside a package, or a hub model's
    snapshot in the local Hugging Face cache (downloaded first when it is not there and the
    network is allowed). Always a folder, so the sandbox can show it to the agent."""
    return resolve_model(spec.base_model, "[weights] base_model")


def resolve_model(name: str, what: str) -> Path:
    """A model's folder from a folder path, `package:<distribution>` or a hub id; `what` names
    the setting in errors."""
    if name.startswith(PACKAGE):
        return package_model_dir(name.removeprefix(PACKAGE), what)
    path = Path(name).expanduser()
    if path.is_dir():
        return path.resolve()
    if name.startswith((".", "/", "~")):
        raise SiaError(f"{what}: no such folder: {name}")
    return hub_snapshot(name, what)


def gguf_in(folder: Path) -> str | None:
    """The GGUF checkpoint to load from a folder that has no transformers config."""
    if (folder / "config.json").is_file():
        return None
    found = sorted(p.name for p in folder.glob("*.gguf"))
    return found[0] if found else None


def hub_snapshot(model_id: str, what: str = "[weights] base_model") -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(model_id, local_files_only=True))
    except Exception:  # not cached yet: fetch it, if the network is allowed
        pass
    try:
        return Path(snapshot_download(model_id))
    except Exception as exc:
        why = " ".join(str(exc).split())[:160]
        raise SiaError(
            f"{what}: '{model_id}' is not in the local Hugging Face "
            f"cache and could not be downloaded ({why}); download it once with "
            f"`hf download {model_id}`, or name a folder"
        ) from None


def package_model_dir(dist_name: str, what: str = "[weights] base_model") -> Path:
    """The folder holding a model's config.json (or GGUF file) inside an installed package;
    the package is not imported (some import heavy runtimes at import time)."""
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise SiaError(
            f"{what}: the package '{dist_name}' is not installed: pip install {dist_name}"
        ) from None
    found = sorted(
        (f for f in dist.files or [] if f.name == "config.json" or f.suffix == ".gguf"),
        key=lambda f: (len(f.parts), str(f)),
    )
    if not found:
        raise SiaError(
            f"{what}: the package '{dist_name}' holds no model (no config.json or .gguf file)"
        )
    return Path(str(dist.locate_file(found[0]))).parent.resolve()


def base_revision(spec: WeightsSpec, base: Path) -> str:
    """What pins the base model: the hub commit of a hub model's snapshot; otherwise a hash of
    the model's files (with the package's version for a packaged one)."""
    if (
        not spec.base_model.startswith((PACKAGE, ".", "/", "~"))
        and not Path(spec.base_model).expanduser().is_dir()
    ):
        return f"hub:{spec.base_model}@{base.name}"  # a snapshot folder is named by its commit
    digest = hashlib.sha256()
    for path in sorted(p for p in base.rglob("*") if p.is_file() and p.suffix in _MODEL_SUFFIXES):
        digest.update(str(path.relative_to(base)).encode() + b"\0")
        digest.update(_file_sha(path).encode())
    pinned = f"sha256:{digest.hexdigest()}"
    if spec.base_model.startswith(PACKAGE):
        dist = spec.base_model.removeprefix(PACKAGE)
        return f"{dist}=={metadata.version(dist)} {pinned}"
    return pinned


def _file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
