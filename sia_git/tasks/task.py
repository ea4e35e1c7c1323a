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

from pydantic import ValidationError

from sia_git.core.errors import SiaError
from sia_git.core.resources import bundled, evaluator_script
from sia_git.store.runs import MANIFEST
from sia_git.tasks.manifest import Manifest
from sia_git.tasks.splits import SplitPlan, default_plan


@dataclass(frozen=True)
class Task:
    root: Path
    manifest: Manifest
    kind: Literal["native", "sia"]
    source: str  # how to find the task again: "builtin:NAME" or an absolute path
    # How its answers divide into a selection split and sealed report splits; a run records
    # the plan it used (splits.py). None: the task's default plan, made when first asked for.
    split_plan: SplitPlan | None = None
    # Lines a run says when it starts: what sia-git inferred for a SIA-layout task.
    notes: tuple[str, ...] = ()

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
    def max_model_calls(self) -> int:
        """Model calls one run of the agent may make: `[agent] max_model_calls`, else 4 per
        item of the answer set (a retry or a vote each), at least 200."""
        declared = self.manifest.agent.max_model_calls
        if declared is not None:
            return declared
        from sia_git.tasks import answers

        try:
            files = answers.answer_files(self.private_dir)
            items = sum(len(answers.file_ids(f, self.manifest.splits.id_field)) for f in files)
        except (answers.NotNarrowable, OSError, ValueError):
            items = 0
        return max(200, 4 * items)

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
        *,
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
    except UnicodeDecodeError:
        raise SiaError(f"{path}: not UTF-8 text; save it as UTF-8") from None
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


SIA_AGENT_TIMEOUT_S = 3600.0


def _load_sia_layout(root: Path, source: str) -> Task:
    # SIA keeps everything under data/; its evaluator sits beside the public inputs and finds the
    # answers itself. An optional task.toml inside data/ can narrow packages or change the metric.
    defaults = {
        "name": root.name,
        "splits": {"select": "dev", "report": []},
        # SIA's own limit for one agent run (its Docker sandbox's DOCKER_TIMEOUT): its tasks ask
        # a model about every item, which sia-git's 120 s default does not fit.
        "agent": {"packages": ["*"], "timeout_s": SIA_AGENT_TIMEOUT_S},
        "evaluator": {"path": "data/public/evaluate.py"},
        "layout": {
            "public": "data/public",
            "private": "data/private",
            "reference": "reference/reference_target_agent.py",
        },
    }
    # The reference agent's requirements.txt, when there is one, names what agents may import
    # (an environment is built for it when sia-git's own lacks them); else its imports do.
    reqs = root / "reference" / "requirements.txt"
    notes: tuple[str, ...] = ()
    if reqs.is_file():
        defaults["agent"] = {**defaults["agent"], "packages": requirement_lines(reqs)}
    else:
        packages, notes = _inferred_packages(root / defaults["layout"]["reference"])
        defaults["agent"] = {**defaults["agent"], "packages": packages}
    override = root / "data" / MANIFEST
    if override.is_file():
        manifest = _read_manifest(override, defaults)
        if manifest.agent.packages != defaults["agent"]["packages"]:
            notes = ()  # the task chose its packages itself
    else:
        manifest = _validate(defaults, root)  # the name is the folder's: it may not fit
    return Task(root, manifest, "sia", source, notes=notes)


def _inferred_packages(reference: Path) -> tuple[list[str], tuple[str, ...]]:
    """The distributions the reference agent imports, and the lines that say so; everything
    ("*") when it can't be read."""
    from sia_git.tasks.imports import needs_of

    try:
        needs = needs_of(reference.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        needs = None
    if needs is None:
        return ["*"], ()
    where = "data/task.toml [agent] packages"
    notes = [
        f"packages an agent may import, from the reference agent's imports: "
        f"{', '.join(needs.packages) or 'the standard library only'} (set {where} to change)"
    ]
    if needs.unknown:
        notes.append(
            f"warning: the reference agent imports {', '.join(needs.unknown)}, which this "
            f"environment doesn't have: name its distribution in {where}"
        )
    return needs.packages, tuple(notes)


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
