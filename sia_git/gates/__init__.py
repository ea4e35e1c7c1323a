"""The gates a candidate passes before it runs, and `sia-git check` runs on any file: ruff,
bandit, semgrep (offline rules in hooks/semgrep/) and a secret scan, concurrently, cached by
blob SHA. Candidates reach them through pre-commit (precommit.py), like a person's commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sia_git.gates.cache import Cache, blob_sha
from sia_git.gates.runners import GateToolError, Options, Runner, all_runners

__all__ = [
    "Cache",
    "GateResult",
    "Options",
    "Scanned",
    "from_cache",
    "run_gates",
    "scan",
    "summary",
    "verdict",
]


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
    files: Sequence[Path], opts: Options, cache: Cache, *, runners: Sequence[Runner] | None = None
) -> list[GateResult]:
    """Every gate on every file, the gates at once; one result per gate, in a fixed order."""
    found = scan(files, opts, cache, runners=runners)
    return [verdict(name, got, opts) for name, got in found.items()]


@dataclass
class Scanned:
    """One gate's findings per file (by the caller's spelling of its path), which of the files
    were answered from the cache, or the reason its tool could not run."""

    findings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    cached: set[str] = field(default_factory=set)
    error: str | None = None


def scan(
    files: Sequence[Path],
    opts: Options,
    cache: Cache,
    *,
    runners: Sequence[Runner] | None = None,
    stand_ins: Mapping[Path, Path] | None = None,
) -> dict[str, Scanned]:
    """Every gate over `files` in one tool run each (the gates at once), the cache first.
    `stand_ins`: a file the gates read in another's place (a knob candidate's knob-free
    variant, evolve/candidates.py); its findings are reported under the file it stands for.
    Files with the same content (or stand-in) are scanned once."""
    read_as = {str(p): (stand_ins or {}).get(p, p) for p in files}
    contents = {name: path.read_bytes() for name, path in read_as.items()}
    from concurrent.futures import ThreadPoolExecutor  # only here: `check` must start fast

    runners = runners if runners is not None else all_runners()
    with ThreadPoolExecutor(max_workers=len(runners)) as pool:
        got = list(
            pool.map(lambda r: _scan_one(r, read_as, contents, opts=opts, cache=cache), runners)
        )
    return {r.name: s for r, s in zip(runners, got, strict=True)}


def from_cache(
    contents: Mapping[str, bytes],
    opts: Options,
    cache: Cache,
    *,
    runners: Sequence[Runner],
    keys: Mapping[str, str] | None = None,
) -> dict[str, Scanned] | None:
    """What `scan` would give for files with these contents (by the names given), when the
    cache answers every gate for every one; else None (nothing scanned). A knob candidate
    after the first of its agent is answered here, without a file written. `keys`: each
    runner's cache key, when the caller has them (reading a gate's rules for its key cost
    more than the lookup)."""
    out: dict[str, Scanned] = {}
    shas = {name: blob_sha(data) for name, data in contents.items()}
    for r in runners:
        try:
            key = keys[r.name] if keys and r.name in keys else r.key(opts)
        except OSError:
            return None
        got = Scanned()
        for name, sha in shas.items():
            hit = cache.get(key, sha)
            if hit is None:
                return None
            got.findings[name] = hit
            got.cached.add(name)
        out[r.name] = got
    return out


def _scan_one(
    runner: Runner,
    read_as: dict[str, Path],
    contents: dict[str, bytes],
    *,
    opts: Options,
    cache: Cache,
) -> Scanned:
    try:
        key = runner.key(opts)
    except OSError as exc:
        return Scanned(error=f"{runner.name}: its rules cannot be read: {exc}")
    out = Scanned()
    todo: dict[str, list[str]] = {}  # blob -> the files with that content
    for name in read_as:
        sha = blob_sha(contents[name])
        hit = cache.get(key, sha)
        if hit is None:
            todo.setdefault(sha, []).append(name)
        else:
            out.findings[name] = hit
            out.cached.add(name)
    if todo:
        scanned_paths = [read_as[names[0]] for names in todo.values()]
        try:
            scanned = runner.scan(scanned_paths, opts)
        except GateToolError as exc:
            return Scanned(cached=out.cached, error=str(exc))
        for sha, names in todo.items():
            found = scanned.get(str(read_as[names[0]]), [])
            for name in names:
                out.findings[name] = found
            cache.put(key, sha, found)
    return out


def verdict(name: str, scanned: Scanned, opts: Options) -> GateResult:
    """A gate's result from its findings, the task's allowed rules let through."""
    if scanned.error is not None:
        return GateResult(name, False, scanned.error, cached=len(scanned.cached))
    found = scanned.findings
    findings = [{"path": path, **f} for path in sorted(found) for f in found[path]]
    report = "\n".join(
        f"{f['path']}:{f['line']}: {f['rule']} {f['message']}"
        + (" (allowed by the task)" if f["rule"] in opts.allow_rules else "")
        for f in findings
    )
    failing = [f for f in findings if f["rule"] not in opts.allow_rules]
    allowed = sorted({f["rule"] for f in findings if f["rule"] in opts.allow_rules})
    return GateResult(name, not failing, report, findings, len(scanned.cached), allowed)


def summary(results: Sequence[GateResult]) -> str:
    """The `Sia-Gates` trailer value, e.g. `ruff=pass bandit=pass semgrep=fail secrets=pass`."""
    return " ".join(
        f"{r.name}={'pass' if r.passed else 'fail'}"
        + (f"(allowed:{','.join(r.allowed)})" if r.allowed else "")
        for r in results
    )
