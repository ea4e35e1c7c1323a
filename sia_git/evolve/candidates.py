"""Try one candidate agent: gate it, run it in the sandbox, score it with the trusted evaluator.

Every way a candidate can fail (a gate, a crash, a timeout, unusable outputs) becomes an Outcome
with a status and a reason; none of them escapes as an exception.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from sia_git.core import faults
from sia_git.evolve.environment import Attempt, RunEnvironment
from sia_git.evolve.outcome import Outcome
from sia_git.gateway.server import Gateway
from sia_git.levers import knob_source
from sia_git.levers.proposal import Proposal
from sia_git.llm.client import ModelClient
from sia_git.sandbox import RunSpec, intercept
from sia_git.store.records import Status
from sia_git.store.runs import ENTRY
from sia_git.tasks.evaluation import EvaluatorFailed, evaluate
from sia_git.tasks.model_spec import HParams
from sia_git.weights.runtime import WeightsRuntime

TRACE_BYTES = 256 * 1024
TRACE_FILES = 20
TRACE_TOTAL_BYTES = 2 * 1024 * 1024
SCAN_LIMIT = 20_000  # entries of the working dir looked at for traces
TRANSCRIPT = "transcript.json"
GATEWAY_LOG_BYTES = 4 * 1024 * 1024  # ~200 calls of capped entries: every call is kept


def try_candidate(env: RunEnvironment, attempt: Attempt) -> Outcome:
    """Gate the attempt's agent, run it in the environment's sandbox (training its adapter
    first, for a weights proposal), and score it with the trusted evaluator."""
    proposal, files, scratch, adapter = (
        attempt.proposal,
        attempt.files,
        attempt.scratch,
        attempt.adapter,
    )
    gates = env.gates if attempt.gated else None
    weights, say = env.weights, attempt.say
    if scratch.exists():
        shutil.rmtree(scratch)
    agent_dir = scratch / "agent"
    for rel, content in files.items():
        (agent_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (agent_dir / rel).write_bytes(content)
    out = Outcome(attempt.index, proposal, files, Status.OK)
    if proposal is not None:
        out.cost_usd = proposal.cost_usd
        if proposal.transcript is not None:
            out.traces[TRANSCRIPT] = proposal.transcript
        if proposal.failed:
            out.status, out.reason = proposal.failed_status, proposal.failed
            return out
    state = attempt.on_state or (lambda _s: None)
    if gates is not None:
        state("gating")
    out.gates = gates.check(files, scratch, _stand_ins(files)) if gates is not None else []
    failed = [g for g in out.gates if not g.passed]
    if failed:
        out.status = Status.GATE_FAILED
        out.reason = "; ".join(
            f"{g.name}: {g.report.splitlines()[0] if g.report else 'failed'}" for g in failed
        )
        return out
    if not (agent_dir / ENTRY).is_file():
        out.status, out.reason = Status.CRASHED, f"the agent has no {ENTRY}"
        return out
    out.adapter = adapter
    state("waiting for a worker")
    with env.slot or contextlib.nullcontext():
        trains = weights is not None and proposal is not None and proposal.train is not None
        if trains:
            state("training")
        if trains and not _train(
            out, proposal, weights, incumbent=adapter, scratch=scratch / "train", say=say
        ):
            return out
        mounts = weights.mounts(out.adapter) if weights is not None else None
        state("running")
        spec = RunSpec(
            agent_dir,
            attempt.dataset or env.dataset,
            scratch / "sandbox",
            env.limits,
            attempt.seed,
            mounts=mounts or {},
        )
        if env.target is None:
            out.run = env.sandbox.run(spec)
        else:
            source = b"\n".join(files.values()).decode("utf-8", errors="replace")
            wants = env.task.manifest.agent
            keys = tuple(sorted(set(wants.model_env) | intercept.key_names_in(source)))
            with Gateway(
                _target(env, out.adapter),
                scratch / "gateway.jsonl",
                env.task.max_model_calls,
                on_call=lambda n: state(f"running: {n} model calls"),
                allow_content_urls=wants.allow_content_urls,
                intercept=intercept.hosts_for(source, wants.model_hosts),
            ) as gw:
                out.run = env.sandbox.run(
                    dataclasses.replace(
                        spec,
                        gateway=gw.socket,
                        key_names=keys,
                        tls_gateway=gw.tls_socket,
                        intercept=gw.tls,
                    )
                )
            out.cost_usd += gw.cost_usd
            out.gateway_calls = gw.calls
            out.note = model_calls_hint(scratch / "gateway.jsonl", gw.calls, source) or ""
            if out.note:  # an agent that exits 0 with no answer from its model: say so
                out.traces["sia-hint.txt"] = out.note.encode()
    traces, out.traces_dropped = collect_traces(scratch / "sandbox")
    out.traces.update(traces)
    if (scratch / "gateway.jsonl").is_file():
        out.traces["gateway.jsonl"] = _head(scratch / "gateway.jsonl", GATEWAY_LOG_BYTES)
    if not out.run.ok:
        out.status = Status.TIMED_OUT if out.run.timed_out else Status.CRASHED
        out.reason = out.run.reason()
        source = b"\n".join(files.values()).decode("utf-8", errors="replace")
        hint = network_hint(out.run.stdout_tail + out.run.stderr_tail, source)
        if hint:  # where the agent (and whoever improves it next) reads it
            out.reason = f"{out.reason} ({hint})"
            out.traces["sia-hint.txt"] = hint.encode()
        return out
    faults.point("evaluating")
    state("scoring")
    try:
        score = env.score or evaluate
        out.evaluation = score(env.task, scratch / "sandbox" / "work", scratch / "eval")
    except EvaluatorFailed as exc:
        out.status, out.reason = Status.EVAL_FAILED, str(exc)
    else:
        out.traces.update(out.evaluation.logs)  # the evaluator's output on unsealed splits
        plan = env.task.plan
        for split in plan.sealed - {plan.select}:
            if split in out.evaluation.splits:
                out.withheld[split] = out.evaluation.splits.pop(split)
    return out


def _target(env: RunEnvironment, adapter: str | None) -> ModelClient:
    """The client the gateway calls: a model sia-git serves applies the candidate's adapter."""
    assert env.target is not None
    if env.hosted is None or adapter is None or env.weights is None:
        return env.target
    return env.hosted.client_for(env.target, adapter, env.weights.store.get(adapter))


def _stand_ins(files: dict[str, bytes]) -> dict[str, bytes]:
    """The knob-free variant of each Python file that has one (knob_source.stand_in)."""
    out = {}
    for rel, content in files.items():
        if not rel.endswith(".py"):
            continue
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            continue
        variant = knob_source.stand_in(text)
        if variant is not None and variant != text:
            out[rel] = variant.encode("utf-8")
    return out


def _train(
    out: Outcome,
    proposal: Proposal,
    weights: WeightsRuntime,
    *,
    incumbent: str | None,
    scratch: Path,
    say: Callable[[str], None] | None,
) -> bool:
    """Train the proposal's adapter; False (with the outcome marked failed) when it could not."""
    hp = HParams.model_validate(proposal.train)
    init = incumbent if hp.continue_from_incumbent else None
    result = weights.train(
        hp,
        out.files.get(ENTRY, b"").decode("utf-8", errors="replace"),
        init,
        scratch=scratch,
        say=say or (lambda _line: None),
    )
    out.traces["training.log"] = result.log[-TRACE_BYTES:]
    if result.address is None:
        out.status, out.reason = Status.TRAIN_FAILED, result.error
        return False
    out.adapter, out.training = result.address, result.record
    out.traces["training.json"] = json.dumps(
        {**result.record, "address": result.address, "seconds": round(result.seconds, 2)}, indent=1
    ).encode()
    return True


_PROVIDERS = re.compile(
    r"(api\.openai\.com|api\.anthropic\.com|generativelanguage\.googleapis\.com|"
    r"api\.together\.xyz|openrouter\.ai|api\.groq\.com|api\.mistral\.ai|api\.tinker\S*)"
)


_NO_NETWORK = re.compile(
    r"Connection error|name resolution|Name or service not known|Network is unreachable|"
    r"ConnectError|APIConnectionError",
    re.IGNORECASE,
)


def network_hint(output: str, source: str = "") -> str | None:
    """What to tell an agent that tried to reach a model provider directly (its output names a
    connection failure, and the output or its code a provider's host)."""
    if not _NO_NETWORK.search(output):
        return None
    m = _PROVIDERS.search(output) or _PROVIDERS.search(source)
    if m is None:
        return None
    return (
        f"the agent tried to reach {m.group(1)}: the sandbox has no network; the run's model is "
        "served inside it: use the SDK with no base_url (OPENAI_BASE_URL and ANTHROPIC_BASE_URL "
        "are set) or sia_gateway"
    )


_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d+)?/[\w/.-]*v\d\b")


def model_calls_hint(log: Path, calls: int, source: str) -> str | None:
    """What to tell about an agent run that got nothing from the run's model: no call at all
    while its code names a provider's URL (the sandbox has no network), or every call
    failed."""
    if calls == 0:
        m = _PROVIDERS.search(source) or _URL.search(source)
        if m is None:
            return None
        return (
            f"the agent made no call to the run's model: its code names {m.group(0)}, which "
            "the sandbox cannot reach; use the SDK without base_url (OPENAI_BASE_URL and "
            "ANTHROPIC_BASE_URL are set) or sia_gateway"
        )
    try:
        entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    except (OSError, ValueError):
        return None
    failed = [e for e in entries if e.get("status") != 200]
    capped = [e for e in failed if "call limit reached" in str(e.get("error", ""))]
    if capped:
        return (
            f"{len(capped)} of the agent's {len(entries)} model calls were refused by the "
            f"per-run cap ({capped[0].get('error')}): raise [agent] max_model_calls in the "
            "task's manifest"
        )
    if not entries or len(failed) < len(entries):
        return None
    first = failed[0]
    return (
        f"every one of the agent's {len(entries)} model calls failed (first: HTTP "
        f"{first.get('status')}: {str(first.get('error', ''))[:160]})"
    )


def collect_traces(sandbox_dir: Path) -> tuple[dict[str, bytes], int]:
    """The agent's logs and trace files for the attempt record, and how many trace files were
    left out. stdout, stderr and the declared traces (`trace*.jsonl`/`.log` at the top of the
    working dir) come first, so decoy files cannot crowd them out; then other traces by depth.
    At most TRACE_FILES files and TRACE_TOTAL_BYTES in all; the walk stops at SCAN_LIMIT
    entries."""
    out: dict[str, bytes] = {}
    for name in ("stdout.txt", "stderr.txt"):
        path = sandbox_dir / name
        if path.is_file():
            out[name] = _head(path)
    work = sandbox_dir / "work"
    found = sorted(_trace_files(work), key=lambda p: (not _declared(work, p), len(p.parts), p))
    budget, dropped = TRACE_TOTAL_BYTES, 0
    for path in found:
        if len(out) >= TRACE_FILES + 2 or budget <= 0:
            dropped += 1
            continue
        data = _head(path, min(TRACE_BYTES, budget))
        budget -= len(data)
        out[f"work/{path.relative_to(work)}"] = data
    return out, dropped


def _declared(work: Path, path: Path) -> bool:
    """The traces an agent declares: `trace*` at the top of its working dir, and SIA's
    trajectory files (`agent_execution.json`, `agent_execution/execution_q*.json`)."""
    rel = path.relative_to(work)
    return (len(rel.parts) == 1 and path.name.startswith(("trace", "agent_execution"))) or (
        rel.parts[0] == "agent_execution"
    )


def _trace_files(work: Path) -> list[Path]:
    found, seen, stack = [], 0, [work]
    while stack and seen < SCAN_LIMIT:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False) and (
                entry.name.startswith(("trace", "agent_execution", "execution_q"))
                or entry.name.endswith((".log", ".jsonl"))
            ):
                found.append(Path(entry.path))
    return found


def _head(path: Path, limit: int = TRACE_BYTES) -> bytes:
    with path.open("rb") as f:
        data = f.read(limit + 1)
    return data if len(data) <= limit else data[:limit] + b"\n[... truncated]\n"
