"""A run's weights lever: the resolved base model, the adapter store, and training a candidate's
adapter. Built once per `evolve` when the task has a `[weights]` table."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sia_git.core.errors import SiaError
from sia_git.levers import knob_source as knobmod
from sia_git.tasks.model_spec import HParams, WeightsSpec, base_revision, resolve_base
from sia_git.weights import training
from sia_git.weights.job import DEFAULT_TEMPLATE, Job
from sia_git.weights.pins import Pin
from sia_git.weights.store import AdapterStore

INSTALL = "pip install torch==2.13.0 && pip install 'sia-git[weights]'"


def require_libraries(why: str) -> None:
    missing = [m for m in ("torch", "transformers", "peft") if not _importable(m)]
    if missing:
        raise SiaError(f"{why} needs {', '.join(missing)}, not installed here: {INSTALL}")


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@dataclass
class WeightsRuntime:
    spec: WeightsSpec
    base: Path
    base_revision: str
    store: AdapterStore
    train_csv: Path
    max_seconds: float
    memory_mb: int
    hub_repo: str | None = None
    evaluator: list[str] | None = None  # the task's, with placeholders (generation's reward)

    @classmethod
    def build(
        cls,
        spec: WeightsSpec,
        task_name: str,
        dataset: Path,
        *,
        store: AdapterStore,
        max_seconds: float,
        memory_mb: int,
        hub_repo: str | None,
        evaluator: list[str] | None = None,
    ) -> WeightsRuntime:
        require_libraries(f"task {task_name} (its agent runs a model)")
        if spec.objective in ("rft", "grpo", "generation") and evaluator is None:
            raise SiaError(
                f'task {task_name}: [weights] objective = "{spec.objective}" needs a '
                "task.toml task (its evaluator scores training items); SIA-layout "
                "evaluators score whole runs only"
            )
        base = resolve_base(spec)
        train_csv = dataset / spec.train_file
        if not train_csv.is_file():
            raise SiaError(
                f"task {task_name}: [weights] train_file: no {spec.train_file} in "
                "the task's public folder"
            )
        store.sweep()
        return cls(
            spec,
            base,
            base_revision(spec, base),
            store,
            train_csv,
            max_seconds,
            memory_mb,
            hub_repo,
            evaluator,
        )

    def mounts(self, address: str | None) -> dict[str, Path]:
        """What the sandbox shows the agent: the base model and the adapter."""
        out: dict[str, Path] = {"model": self.base}
        if address is not None:
            out["adapter"] = self.store.get(address)
        return out

    def pin(self, address: str) -> Pin:
        return Pin(
            address, self.spec.base_model, self.base_revision, self.spec.objective, self.hub_repo
        )

    def train(
        self,
        hp: HParams,
        agent_source: str,
        init: str | None,
        *,
        scratch: Path,
        say: Callable[[str], None],
    ) -> training.Training:
        """Train an adapter for the agent in `agent_source` (its `template` knob formats the
        examples); `init` continues from that stored adapter."""
        job = Job(
            base=str(self.base),
            base_model=self.spec.base_model,
            base_revision=self.base_revision,
            train_csv=str(self.train_csv),
            text_column=self.spec.text_column,
            label_column=self.spec.label_column,
            template=template_of(agent_source),
            shots=shots_of(agent_source),
            max_length=self.spec.max_length,
            target_modules=self.spec.target_modules,
            hparams=hp.model_dump(),
            out_dir=str(scratch / "adapter"),
            max_seconds=self.max_seconds,
            init_adapter=str(self.store.get(init)) if init else None,
            objective=self.spec.objective,
            evaluator=self.evaluator,
            id_column=self.spec.id_column,
            max_new_tokens=self.spec.max_new_tokens,
            gguf_file=self.spec.gguf_file,
            prompt_format=self.spec.prompt_format,
            answer_pattern=self.spec.answer_pattern,
        )
        return training.run(job, scratch, self.store, memory_mb=self.memory_mb, say=say)


def shots_of(source: str) -> int:
    """The harness's `shots` knob (few-shot examples it shows), read without running the
    code; 0 when it has none. Training prompts show as many, so the adapter learns on prompts
    shaped like the ones it will be served."""
    try:
        parsed = knobmod.read(source)
    except knobmod.KnobError:
        return 0
    value = parsed[0].get("shots") if parsed else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def template_of(source: str) -> str:
    """The harness's `template` knob, read without running the code."""
    try:
        parsed = knobmod.read(source)
    except knobmod.KnobError:
        return DEFAULT_TEMPLATE
    value = parsed[0].get("template") if parsed else None
    return value if isinstance(value, str) and "{text}" in value else DEFAULT_TEMPLATE
