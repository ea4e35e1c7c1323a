"""The gates a candidate passes before it runs, and `sia-git check` runs on any file: ruff,
bandit, semgrep (offline rules in hooks/semgrep/) and a secret scan, concurrently, cached by
blob SHA. Candidates reach them through pre-commit (precommit.py), like a person's commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sia_git.gates.cache import Cache, blob_sha
from sia_git.gates.runners import RUNNERS, GateToolError, Options, Runner

__all__ = ["Cache", "GateResult", "Options", "run_gates", "summary"]


@dataclass
class GateResult:
    name: str
    passed: bool
    report: str  # human-readable findings, empty when clean
    findings: list[dict[str, Any]] = field(default_factory=list)  # {"path", "line", "rule", ...}
    cached: int = 0  # files whose result came from the cache
    allowed: list[str] = field(default_factory=list)  # rules the task's policy let through

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "report": self.report,
            "findings": self.findings,
            "cached": self.cached,
            "allowed": self.allowed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GateResult:
        return cls(
            data["name"],
            bool(data["passed"]),
            data.get("report", ""),
            data.get("findings", []),
            data.get("cached", 0),
            data.get("allowed", []),
        )


def run_gates(
    files: Sequence[Path], opts: Options, cache: Cache, runners: Sequence[Runner] = RUNNERS
) -> list[GateResult]:
    """Every gate on every file, the gates at once; one result per gate, in a fixed order."""
    contents = {str(p): p.read_bytes() for p in files}
    from concurrent.futures import ThreadPoolExecutor  # only here: `check` must start fast

    with ThreadPoolExecutor(max_workers=len(runners)) as pool:
        return list(pool.map(lambda r: _one(r, list(files), contents, opts, cache), runners))


def _one(
    runner: Runner, files: list[Path], contents: dict[str, bytes], opts: Options, cache: Cache
) -> GateResult:
    try:
        key = runner.key(opts)
    except OSError as exc:
        return GateResult(runner.name, False, f"{runner.name}: its rules cannot be read: {exc}")
    found: dict[str, list[dict[str, Any]]] = {}
    todo: list[Path] = []
    for p in files:
        hit = cache.get(key, blob_sha(contents[str(p)]))
        if hit is None:
            todo.append(p)
        else:
            found[str(p)] = hit
    cached = len(found)
    if todo:
        try:
            scanned = runner.scan(todo, opts)
        except GateToolError as exc:
            return GateResult(runner.name, False, str(exc), cached=cached)
        for p in todo:
            found[str(p)] = scanned.get(str(p), [])
            cache.put(key, blob_sha(contents[str(p)]), found[str(p)])
    findings = [{"path": path, **f} for path in sorted(found) for f in found[path]]
    report = "\n".join(
        f"{f['path']}:{f['line']}: {f['rule']} {f['message']}"
        + (" (allowed by the task)" if f["rule"] in opts.allow_rules else "")
        for f in findings
    )
    failing = [f for f in findings if f["rule"] not in opts.allow_rules]
    allowed = sorted({f["rule"] for f in findings if f["rule"] in opts.allow_rules})
    return GateResult(runner.name, not failing, report, findings, cached, allowed)


def summary(results: Sequence[GateResult]) -> str:
    """The `Sia-Gates` trailer value, e.g. `ruff=pass bandit=pass semgrep=fail secrets=pass`."""
    return " ".join(
        f"{r.name}={'pass' if r.passed else 'fail'}"
        + (f"(allowed:{','.join(r.allowed)})" if r.allowed else "")
        for r in results
    )
