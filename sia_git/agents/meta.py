"""The Meta-Agent: writes generation 1's `target_agent.py` from the task's description, its
public files, its reference agent and sample task descriptions, following the agent contract.

Its output is checked before anything runs it (a code block exists, it parses, it takes the
contract's two flags), then tried for real by the caller; a broken output goes back to the model
with the error, a bounded number of times.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sia_git.agents.conversation import Conversation
from sia_git.core import pysource
from sia_git.llm import prompts
from sia_git.llm.client import ModelClient, ModelError
from sia_git.tasks.task import PublicTask, Task

_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)
_OPEN_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n")
HEAD_LINES = 5
MAX_LISTED_FILES = 20


@dataclass
class MetaResult:
    source: str | None  # the accepted agent, or None when every try failed
    payload: Any  # what the caller's trial returned for the accepted agent
    conversation: Conversation
    error: str | None  # why the last try failed

    @property
    def cost_usd(self) -> float:
        return self.conversation.cost_usd


def contract_context(task: Task | PublicTask, gateway: bool) -> dict[str, Any]:
    a = task.manifest.agent
    packages = ", ".join(a.packages) if a.packages else "none"
    if "*" in a.packages:
        packages = "whatever the environment has installed"
    return {
        "packages": packages,
        "timeout_s": a.timeout_s,
        "memory_mb": a.memory_mb,
        "gateway": gateway,
        "task_name": task.name,
        "task_md": task.task_md.read_text(encoding="utf-8", errors="replace").strip(),
    }


def public_files(dataset: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted(p for p in dataset.rglob("*") if p.is_file())[:MAX_LISTED_FILES]:
        rel = str(path.relative_to(dataset))
        head = ""
        if rel != "task.md" and path.suffix in (".csv", ".tsv", ".jsonl", ".json", ".txt"):
            with path.open(encoding="utf-8", errors="replace") as f:
                head = "".join(f.readline()[:300] for _ in range(HEAD_LINES)).rstrip()
        out.append({"path": rel, "size": path.stat().st_size, "head": head})
    return out


def extract_code(reply: str, finish_reason: str, cut: str = "") -> tuple[str | None, str | None]:
    """The agent's source from a reply, or why there is none (`cut`: which limit cut it)."""
    blocks = _FENCE.findall(reply)
    if not blocks:
        if cut.startswith("cut by time"):
            return None, f"the reply was {cut} before the code block ended"
        if finish_reason == "length" or _OPEN_FENCE.search(reply):
            return None, "the reply was cut off before the code block ended; write a shorter agent"
        if not reply.strip():
            return None, "the reply was empty"
        return None, (
            f"the reply has no ```python code block (it began: {' '.join(reply.split())[:120]!r})"
        )
    return max(blocks, key=len), None


def check_source(source: str) -> str | None:
    """Why `source` cannot be a target agent, or None."""
    try:
        tree = pysource.parse(source)
    except SyntaxError as exc:
        return f"target_agent.py does not parse: line {exc.lineno}: {exc.msg}"
    strings = {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }
    missing = [f for f in ("--dataset_dir", "--working_dir") if f not in strings]
    if missing:
        return f"target_agent.py does not accept {' and '.join(missing)} (the contract's flags)"
    return None


Trial = Callable[[str], tuple[str | None, Any]]  # source -> (why it failed, payload)


SAMPLES_CHARS = 12_000  # the task's examples, at most (a small model's context is small)


def write_first_agent(
    client: ModelClient, task: Task, dataset: Path, *, retries: int, gateway: bool, trial: Trial
) -> MetaResult:
    """Ask for an agent, check it, let `trial` run it; retry with the error up to `retries`
    times. ModelAuthError and BudgetExhausted propagate: the run must stop."""
    ctx = contract_context(task, gateway)
    reference = (
        task.reference_agent.read_text(encoding="utf-8", errors="replace")
        if task.reference_agent.is_file()
        else ""
    )
    convo = Conversation(client, "meta")
    convo.system(prompts.render("meta_system", **ctx))
    convo.user(
        prompts.render(
            "meta_user",
            **ctx,
            public_files=public_files(dataset),
            reference=reference,
            samples=_task_samples(task) or prompts.sample_tasks(),
        )
    )
    error: str | None = None
    for _ in range(retries + 1):
        try:
            reply = convo.ask()
        except ModelError as exc:
            return MetaResult(None, None, convo, str(exc))
        source, error = extract_code(reply.content, reply.finish_reason, reply.cut)
        if source is not None:
            error = check_source(source)
        payload = None
        if source is not None and error is None:
            error, payload = trial(source)
        if error is None:
            return MetaResult(source, payload, convo, None)
        convo.events.append(f"try {convo.calls}: {error}")
        convo.user(prompts.render("meta_retry", error=error))
    return MetaResult(None, None, convo, error)


def _task_samples(task: Task) -> list[str]:
    """A SIA task's own examples (`SAMPLE_TASK_DESCRIPTIONS.md` beside its reference agent),
    which the Meta-Agent reads in place of the built-in ones."""
    path = task.reference_agent.parent / "SAMPLE_TASK_DESCRIPTIONS.md"
    if not path.is_file():
        return []
    return [path.read_text(encoding="utf-8", errors="replace").strip()[:SAMPLES_CHARS]]
