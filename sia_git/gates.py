"""Checks a candidate must pass before it runs. This is the one hook point for gates.

Today: ruff's correctness rules (syntax errors, undefined names, broken comparisons). The full
gate set (bandit, semgrep, secret scan, through pre-commit) plugs in here by adding to GATES.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sia_git.resources import bundled


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    report: str  # human-readable findings, empty when clean


class Gate(Protocol):
    name: str

    def check(self, files: list[Path]) -> GateResult: ...


class RuffGate:
    """ruff with the rules in hooks/ruff.toml: code that cannot run, not style."""

    name = "ruff"

    def check(self, files: list[Path]) -> GateResult:
        config = bundled("hooks") / "ruff.toml"
        argv = [sys.executable, "-m", "ruff", "check", "--no-cache", "--config", str(config),
                "--output-format", "json", *map(str, files)]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            return GateResult(self.name, False, "ruff timed out")
        if done.returncode not in (0, 1):
            return GateResult(self.name, False, f"ruff could not run: {done.stderr.strip()[:300]}")
        findings = json.loads(done.stdout or "[]")
        lines = [f"{Path(f['filename']).name}:{f['location']['row']}: {f['code']} {f['message']}"
                 for f in findings]
        return GateResult(self.name, not findings, "\n".join(lines))


GATES: list[Gate] = [RuffGate()]


def run_gates(files: list[Path]) -> list[GateResult]:
    return [gate.check(files) for gate in GATES]


def summary(results: list[GateResult]) -> str:
    """The `Sia-Gates` trailer value, e.g. `ruff=pass`."""
    return " ".join(f"{r.name}={'pass' if r.passed else 'fail'}" for r in results)
