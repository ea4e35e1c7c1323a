"""Try one candidate agent: gate it, run it in the sandbox, score it with the trusted evaluator.

Every way a candidate can fail (a gate, a crash, a timeout, unusable outputs) becomes an Outcome
with a status and a reason; none of them escapes as an exception.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sia_git import gates as gatemod
from sia_git.evaluation import Evaluation, EvaluatorFailed, evaluate
from sia_git.gates import GateResult
from sia_git.proposer import Proposal
from sia_git.runs import ENTRY
from sia_git.sandbox import Limits, RunResult, Sandbox
from sia_git.task import Task

TRACE_BYTES = 256 * 1024
TRACE_FILES = 20


@dataclass
class Outcome:
    index: int  # 1..N for candidates, 0 for a baseline or the reference agent
    proposal: Proposal | None
    files: dict[str, bytes]  # the agent folder it ran: path -> content
    status: str  # ok | gate-failed | crashed | timed-out | eval-failed
    reason: str = ""
    gates: list[GateResult] = field(default_factory=list)
    run: RunResult | None = None
    evaluation: Evaluation | None = None
    traces: dict[str, bytes] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def score(self, split: str) -> float | None:
        return self.evaluation.score(split) if self.evaluation else None


def try_candidate(index: int, proposal: Proposal | None, files: dict[str, bytes], task: Task,
                  sandbox: Sandbox, dataset: Path, scratch: Path, limits: Limits,
                  seed: int) -> Outcome:
    """`files` is the whole agent folder (path -> content), already holding the proposal."""
    if scratch.exists():
        shutil.rmtree(scratch)
    agent_dir = scratch / "agent"
    for rel, content in files.items():
        (agent_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (agent_dir / rel).write_bytes(content)
    out = Outcome(index, proposal, files, "ok")
    out.gates = gatemod.run_gates(sorted(agent_dir.rglob("*.py")))
    failed = [g for g in out.gates if not g.passed]
    if failed:
        out.status = "gate-failed"
        out.reason = "; ".join(f"{g.name}: {g.report.splitlines()[0] if g.report else 'failed'}"
                               for g in failed)
        return out
    if not (agent_dir / ENTRY).is_file():
        out.status, out.reason = "crashed", f"the agent has no {ENTRY}"
        return out
    out.run = sandbox.run(agent_dir, dataset, scratch / "sandbox", limits, seed)
    out.traces = collect_traces(scratch / "sandbox")
    if not out.run.ok:
        out.status = "timed-out" if out.run.timed_out else "crashed"
        out.reason = out.run.reason()
        return out
    try:
        out.evaluation = evaluate(task, scratch / "sandbox" / "work", scratch / "eval")
    except EvaluatorFailed as exc:
        out.status, out.reason = "eval-failed", str(exc)
    return out


def collect_traces(sandbox_dir: Path) -> dict[str, bytes]:
    """The agent's logs and trace files, capped, for the attempt record."""
    out: dict[str, bytes] = {}
    for name in ("stdout.txt", "stderr.txt"):
        path = sandbox_dir / name
        if path.is_file():
            out[name] = _head(path)
    work = sandbox_dir / "work"
    found = sorted(p for p in work.rglob("*") if p.is_file() and not p.is_symlink()
                   and (p.name.startswith("trace") or p.suffix in (".log", ".jsonl")))
    for path in found[:TRACE_FILES]:
        out[f"work/{path.relative_to(work)}"] = _head(path)
    return out


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        data = f.read(TRACE_BYTES + 1)
    return data if len(data) <= TRACE_BYTES else data[:TRACE_BYTES] + b"\n[... truncated]\n"
