"""The ruff gate: code that cannot run is stopped before it reaches the sandbox."""

from __future__ import annotations

from pathlib import Path

from sia_git.gates import run_gates, summary


def test_clean_agent_passes(tmp_path: Path) -> None:
    (tmp_path / "target_agent.py").write_text("import os\nx = 1  # style is not gated\n")
    results = run_gates([tmp_path / "target_agent.py"])
    assert summary(results) == "ruff=pass"


def test_broken_agent_fails_with_a_readable_report(tmp_path: Path) -> None:
    (tmp_path / "target_agent.py").write_text("def main():\n    return undefined_name\n")
    [ruff] = run_gates([tmp_path / "target_agent.py"])
    assert not ruff.passed
    assert "target_agent.py:2: F821 Undefined name `undefined_name`" in ruff.report
    (tmp_path / "target_agent.py").write_text("def main(:\n")
    [ruff] = run_gates([tmp_path / "target_agent.py"])
    assert not ruff.passed and "target_agent.py:1" in ruff.report
