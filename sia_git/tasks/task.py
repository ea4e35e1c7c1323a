"""Load a task directory (sia-git's `task.toml` layout or SIA's `data/public` layout) and check it.

A task is: public inputs the agent may read, a private answer key only the evaluator reads, a
trusted evaluator, and a reference agent that seeds generation 1.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sia_git.core.errors import SiaError
from sia_git.core.resources import bundled, evaluator_script
from sia_git.store.runs import MANIFEST
from sia_git.tasks.model_spec import WeightsSpec
from sia_git.tasks.splits import SplitPlan, default_plan, from_record


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricSpec(_Strict):
    name: str = "accuracy"
    direction: Literal["maximize", "minimize"] = "maximize"
    # Whether the metric is the share of items whose status is correct (then sia-git scores dev
    # and test from the evaluator's per-item statuses). None: decided by the metric's name.
    mean_over_items: bool | None = None


class SplitSpec(_Strict):
    select: str = "dev"
    report: list[str] = Field(default_factory=list)
    # A task with one answer set (no report split) is split into dev and test by sia-git:
    dev_fraction: float = Field(default=0.5, gt=0, lt=1)
    method: Literal["auto", "items", "narrow"] = "auto"
    id_field: str | None = Field(default=None, min_length=1)  # the answer files' id column/key


class AgentSpec(_Strict):
    timeout_s: float = Field(default=120.0, gt=0)
    memory_mb: int = Field(default=2048, ge=64)
    # Distributions the agent may import. "*" means the whole environment (SIA tasks' default).
    packages: list[str] = Field(default_factory=list)
    # Distributions that must never be importable by the agent (the task's data source).
    forbid_packages: list[str] = Field(default_factory=list)
    # Gate rules this task's agents may break (e.g. B602 and sia-subprocess for an agent whose
    # tool is a shell): reported, recorded in Sia-Gates, not failing. The sandbox still contains.
    allow_rules: list[str] = Field(default_factory=list)
    # More variables an agent's SDK reads its key from (e.g. TINKER_API_KEY): with a target
    # model, each is set to the gateway's dummy key, as OPENAI_API_KEY is.
    model_env: list[str] = Field(default_factory=list)
    # The model the agent calls when the run names no --target-model: a litellm model string
    # or a local model sia-git serves itself (package:<distribution>, local:<hub id>, a folder).
    target_model: str | None = Field(default=None, min_length=1)
    # Model calls one run of the agent may make through the gateway.
    max_model_calls: int = Field(default=200, ge=1, le=100_000)
    # Whether the agent's model calls may hold content parts that point at a URL or a file
    # (image_url URLs, Anthropic url/file sources): the model's client would fetch them from
    # outside the sandbox, so the gateway refuses them unless the task needs them.
    allow_content_urls: bool = False


class EvaluatorSpec(_Strict):
    path: str | None = None
    builtin: Literal["accuracy"] | None = None
    timeout_s: float = Field(default=60.0, gt=0)
    # Its address space, at most: a trusted part, but an agent's outputs choose its input.
    memory_mb: int = Field(default=4096, ge=64)
    env: dict[str, str] = Field(default_factory=dict)  # added to the evaluator's environment
    args: list[str] = Field(default_factory=list)  # appended to its command line

    @model_validator(mode="after")
    def _one_source(self) -> EvaluatorSpec:
        if (self.path is None) == (self.builtin is None):
            raise ValueError("set exactly one of 'path' or 'builtin'")
        return self


class LayoutSpec(_Strict):
    public: str = "public"
    private: str = "private"
    reference: str = "reference/target_agent.py"


class Manifest(_Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    version: str = "1"
    metric: MetricSpec = Field(default_factory=MetricSpec)
    splits: SplitSpec = Field(default_factory=SplitSpec)
    agent: AgentSpec = Field(default_factory=AgentSpec)
    evaluator: EvaluatorSpec = Field(default_factory=lambda: EvaluatorSpec(builtin="accuracy"))
    layout: LayoutSpec = Field(default_factory=LayoutSpec)
    weights: WeightsSpec | None = None  # the model the agent runs; enables the weights lever


@dataclass(frozen=True)
class Task:
    root: Path
    manifest: Manifest
    kind: Literal["native", "sia"]
    source: str  # how to find the task again: "builtin:NAME" or an absolute path
    # How its answers divide into a selection split and sealed report splits; a run records
    # the plan it used (splits.py). None: the task's default plan, made when first asked for.
    split_plan: SplitPlan | None = None

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def public_dir(self) -> Path:
        return self.root / self.manifest.layout.public

    @property
    def private_dir(self) -> Path:
        return self.root / self.manifest.layout.private

    @property
    def reference_agent(self) -> Path:
        return self.root / self.manifest.layout.reference

    @property
    def task_md(self) -> Path:
        return self.public_dir / "task.md"

    @property
    def evaluator(self) -> Path:
        spec = self.manifest.evaluator
        return evaluator_script(spec.builtin) if spec.builtin else self.root / str(spec.path)

    @property
    def plan(self) -> SplitPlan:
        """Raises SiaError when the task's one answer set cannot be split (see splits.py)."""
        return self.split_plan if self.split_plan is not None else self._default_plan

    @functools.cached_property
    def _default_plan(self) -> SplitPlan:  # reads the answer files: once per Task
        return default_plan(self)

    def with_plan(self, plan: SplitPlan) -> Task:
        return dataclasses.replace(self, split_plan=plan)

    @property
    def select(self) -> str:
        """The split that selection uses (dev unless a run chose --select-on-test)."""
        return self.plan.select

    @property
    def splits(self) -> list[str]:
        return list(self.plan.splits)

    @property
    def declared_splits(self) -> list[str]:
        """The splits the task's own answer key has (its evaluator's --split values)."""
        s = self.manifest.splits
        return [s.select, *[r for r in s.report if r != s.select]]

    def evaluator_command(
        self,
        outputs: Path,
        split: str,
        result: Path,
        root: Path | None = None,
        answers: Path | None = None,
    ) -> list[str]:
        """`root` replaces the task root (a copy whose answers were narrowed to one split) and
        `answers` the private folder handed to a native evaluator."""
        # The evaluator inside the copy (it finds the answers relative to itself), unless it
        # lives outside the task (a built-in one).
        script = self.evaluator
        if root is not None and script.is_relative_to(self.root):
            script = root / script.relative_to(self.root)
        if self.kind == "sia":
            argv = [sys.executable, str(script), "--gen-dir", str(outputs)]
        else:
            argv = [
                sys.executable,
                str(script),
                "--predictions",
                str(outputs),
                "--answers",
                str(answers or self.private_dir),
                "--split",
                split,
                "--output",
                str(result),
            ]
        return argv + list(self.manifest.evaluator.args)

    def evaluator_template(self) -> list[str] | None:
        """The evaluator's argv with {predictions}, {answers}, {split} and {output} left to fill
        (the weights lever scores training items with it); None for SIA-layout evaluators."""
        if self.kind == "sia":
            return None
        return [
            sys.executable,
            str(self.evaluator),
            "--predictions",
            "{predictions}",
            "--answers",
            "{answers}",
            "--split",
            "{split}",
            "--output",
            "{output}",
            *self.manifest.evaluator.args,
        ]


@dataclass(frozen=True)
class PublicTask:
    """The task's public side: never its answers or its evaluator."""

    name: str
    manifest: Manifest
    public_dir: Path
    task_md: Path
    reference_agent: Path

    @classmethod
    def of(cls, task: Task) -> PublicTask:
        return cls(task.name, task.manifest, task.public_dir, task.task_md, task.reference_agent)


def builtin_tasks() -> dict[str, Path]:
    root = bundled("tasks")
    return {
        p.parent.name: p.parent
        for p in sorted(root.glob(f"*/{MANIFEST}"))
        if not p.parent.name.startswith("_")
    }


def resolve(name: str | None, task_dir: Path | None) -> Task:
    """Find a task by built-in name or by directory; exactly one must be given."""
    if (name is None) == (task_dir is None):
        raise SiaError("give exactly one of --task NAME (see `sia-git tasks`) or --task-dir PATH")
    if name is not None:
        tasks = builtin_tasks()
        if name not in tasks:
            known = ", ".join(tasks) or "none"
            raise SiaError(f"unknown task '{name}' (built-in tasks: {known})")
        return load(tasks[name], source=f"builtin:{name}")
    assert task_dir is not None
    if not utf8(str(task_dir.resolve())):
        raise SiaError(
            f"--task-dir {task_dir}: the path is not valid UTF-8 (it is recorded in the run's "
            "commits); rename or move the folder"
        )
    return load(task_dir, source=str(task_dir.resolve()))


def utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes of a file name (surrogateescape)
        return False
    return True


def from_source(source: str) -> Task:
    """Reload a task recorded as `builtin:NAME` or a path (used when resuming a run)."""
    if source.startswith("builtin:"):
        return resolve(source.removeprefix("builtin:"), None)
    return resolve(None, Path(source))


def task_of_run(
    recorded: dict[str, Any], task_dir: Path | None = None, repo_root: Path | None = None
) -> Task:
    """The task a run's run.toml names (or `task_dir`, where that path is not here), with the
    split plan the run recorded: resume, `eval` and `audit` score exactly as the run did. A
    source recorded inside the repository (`repo:path`) is found under `repo_root`."""
    source = str(recorded.get("task_source", ""))
    if source.startswith("repo:") and repo_root is not None:
        source = str(repo_root / source.removeprefix("repo:"))
    task = (
        load(task_dir, str(task_dir.resolve()), need_reference=False)
        if task_dir
        else from_source(source)
    )
    return task.with_plan(from_record(task, recorded))


def load(root: Path, source: str, need_reference: bool = True) -> Task:
    """`need_reference=False` for scoring committed agents only (a run branch's task copy
    carries no reference agent)."""
    if not root.is_dir():
        raise SiaError(f"task directory not found: {root}")
    root = root.resolve()  # the evaluator runs with the task root as its working directory
    if (root / MANIFEST).is_file():
        task = Task(root, _read_manifest(root / MANIFEST), "native", source)
    elif (root / "data" / "public" / "task.md").is_file():
        task = _load_sia_layout(root, source)
    else:
        raise SiaError(f"{root}: not a task (no {MANIFEST}, and no SIA data/public/task.md)")
    _check_files(task, need_reference)
    return task


def _read_manifest(path: Path, defaults: dict | None = None) -> Manifest:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SiaError(f"{path}: invalid TOML: {exc}") from None
    return _validate(merge(defaults or {}, data), path)


def _validate(data: dict[str, Any], where: Path) -> Manifest:
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise SiaError(f"{where}: {key}: {err['msg']}") from None


def merge(defaults: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` over `defaults` key by key, tables recursively: a partial data/task.toml
    keeps every default it does not name."""
    out = dict(defaults)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _load_sia_layout(root: Path, source: str) -> Task:
    # SIA keeps everything under data/; its evaluator sits beside the public inputs and finds the
    # answers itself. An optional task.toml inside data/ can narrow packages or change the metric.
    defaults = {
        "name": root.name,
        "splits": {"select": "dev", "report": []},
        "agent": {"packages": ["*"]},
        "evaluator": {"path": "data/public/evaluate.py"},
        "layout": {
            "public": "data/public",
            "private": "data/private",
            "reference": "reference/reference_target_agent.py",
        },
    }
    # The reference agent's requirements.txt, when there is one, names what agents may import
    # (an environment is built for it when sia-git's own lacks them); else all of it ("*").
    reqs = root / "reference" / "requirements.txt"
    if reqs.is_file():
        defaults["agent"] = {"packages": requirement_lines(reqs)}
    override = root / "data" / MANIFEST
    if override.is_file():
        manifest = _read_manifest(override, defaults)
    else:
        manifest = _validate(defaults, root)  # the name is the folder's: it may not fit
    return Task(root, manifest, "sia", source)


def requirement_lines(path: Path) -> list[str]:
    """The requirements in a requirements.txt (comments, blank lines and pip options left out)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def _check_files(task: Task, need_reference: bool = True) -> None:
    required = {
        "public inputs folder": task.public_dir,
        "private answers folder": task.private_dir,
    }
    for what, path in required.items():
        if not path.is_dir():
            raise SiaError(f"{path}: missing {what} of task '{task.name}'")
    files = {"task description": task.task_md, "evaluator": task.evaluator}
    if need_reference:
        files["reference agent"] = task.reference_agent
    for what, path in files.items():
        if not path.is_file():
            raise SiaError(f"{path}: missing {what} of task '{task.name}'")
    clash = set(task.manifest.agent.packages) & set(task.manifest.agent.forbid_packages)
    if clash:
        raise SiaError(f"{task.root / MANIFEST}: agent.packages allows forbidden {sorted(clash)}")
