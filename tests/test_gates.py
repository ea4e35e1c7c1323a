"""The gates: every semgrep rule, and ruff, bandit and the secret scan, each with a file it must
flag and one it must pass (tests/gate_samples/<rule>/{flag,pass}.py); the cache; concurrency;
and `sia-git check`."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from sia_git.gates import Cache, Options, run_gates, summary
from sia_git.gates.runners import Findings, all_runners
from tests.conftest import Runner

SAMPLES = Path(__file__).parent / "gate_samples"
RULES = sorted(p.stem for p in (Path(__file__).parents[1] / "hooks" / "semgrep").glob("*.yml"))
SEMGREP = {
    "network": "sia-network",
    "subprocess": "sia-subprocess",
    "eval_exec": "sia-eval-exec",
    "dynamic_import": "sia-dynamic-import",
    "outside_paths": "sia-outside-paths",
    "private_paths": "sia-private-paths",
    "env_secrets": "sia-env-secrets",
    "results_json": "sia-results-json",
    "data_source": "sia-data-source",
}
OTHER = {
    "ruff": ("ruff", "F821"),
    "bandit": ("bandit", "B301"),
    "secrets": ("secrets", "detect-secrets"),
}
OPTS = Options(forbid_packages=("palmerpenguins",))


def test_every_rule_file_has_samples() -> None:
    assert {*RULES, "data_source"} == set(SEMGREP)
    for name in [*SEMGREP, *OTHER]:
        assert (SAMPLES / name / "flag.py").is_file() and (SAMPLES / name / "pass.py").is_file()


@pytest.fixture(scope="module")
def results() -> dict[str, list]:
    """One run of every gate over every sample (semgrep starts once, not once per rule)."""
    files = sorted(SAMPLES.glob("*/*.py"))
    found: dict[str, list] = {str(p): [] for p in files}
    for gate in run_gates(files, OPTS, Cache(None)):
        assert "could not run" not in gate.report, gate.report
        for f in gate.findings:
            found[f["path"]].append((gate.name, f["rule"]))
    return found


@pytest.mark.parametrize("sample", sorted(SEMGREP))
def test_semgrep_rule_flags_its_sample_and_passes_the_clean_one(results: dict, sample: str) -> None:
    assert ("semgrep", SEMGREP[sample]) in results[str(SAMPLES / sample / "flag.py")]
    assert results[str(SAMPLES / sample / "pass.py")] == []


@pytest.mark.parametrize("sample", sorted(OTHER))
def test_gate_flags_its_sample_and_passes_the_clean_one(results: dict, sample: str) -> None:
    assert OTHER[sample] in results[str(SAMPLES / sample / "flag.py")]
    assert results[str(SAMPLES / sample / "pass.py")] == []


def test_the_value_of_a_secret_environment_variable_is_flagged(tmp_path: Path) -> None:
    agent = tmp_path / "target_agent.py"
    agent.write_text('HINT = "my-own-secret-value-77"\n')
    opts = Options(secret_values=("my-own-secret-value-77",))
    [secrets] = run_gates(
        [agent], opts, Cache(None), runners=[r for r in all_runners() if r.name == "secrets"]
    )
    assert not secrets.passed and "env-secret" in secrets.report
    assert "my-own-secret-value-77" not in secrets.report


def test_builtin_reference_agents_pass_every_gate() -> None:
    root = Path(__file__).parents[1]
    agents = [
        *root.glob("tasks/*/reference/target_agent.py"),
        root / "templates/task/reference/target_agent.py",
        root / "tests/data/sia_task/reference/reference_target_agent.py",
    ]
    results = run_gates(agents, Options(("palmerpenguins", "vaderSentiment")), Cache(None))
    assert summary(results) == "ruff=pass bandit=pass semgrep=pass secrets=pass", [
        r.report for r in results
    ]


class Counting:
    """A gate that records what it scanned and, optionally, waits for the other gates."""

    def __init__(self, name: str, barrier: threading.Barrier | None = None) -> None:
        self.name, self.barrier, self.scanned = name, barrier, []  # type: ignore[var-annotated]

    def key(self, opts: Options) -> str:
        return f"{self.name}-v1"

    def scan(self, paths: Sequence[Path], opts: Options) -> Findings:
        if self.barrier:
            self.barrier.wait()
        self.scanned.extend(paths)
        return {
            str(p): [{"line": 1, "rule": "x", "message": "bad"}] if "bad" in p.read_text() else []
            for p in paths
        }


def test_results_are_cached_by_content(tmp_path: Path) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("ok\n")
    b.write_text("bad\n")
    gate, cache = Counting("g"), Cache(tmp_path / "cache")
    [first] = run_gates([a, b], Options(), cache, runners=[gate])
    assert not first.passed and first.cached == 0 and len(gate.scanned) == 2
    c = tmp_path / "c.py"
    c.write_text("ok\n")  # same content as a.py under another name: already known
    [second] = run_gates([a, b, c], Options(), cache, runners=[gate])
    assert second.cached == 3 and len(gate.scanned) == 2
    assert second.report == first.report.replace(str(b), str(b))
    b.write_text("fixed\n")
    [third] = run_gates([a, b], Options(), cache, runners=[gate])
    assert third.passed and gate.scanned[-1] == b and len(gate.scanned) == 3


def test_gates_run_concurrently(tmp_path: Path) -> None:
    barrier = threading.Barrier(4, timeout=10)  # broken unless all four scan at once
    gates = [Counting(n, barrier) for n in ("w", "x", "y", "z")]
    (tmp_path / "a.py").write_text("ok\n")
    results = run_gates([tmp_path / "a.py"], Options(), Cache(None), runners=gates)
    assert [r.passed for r in results] == [True] * 4


def test_check_command_reports_and_exits_nonzero_on_a_failure(sia: Runner, tmp_path: Path) -> None:
    bad, good = SAMPLES / "subprocess" / "flag.py", SAMPLES / "subprocess" / "pass.py"
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    done = sia("check", str(bad), str(good), cwd=tmp_path, env=env)
    assert done.returncode == 1, done.stderr
    assert "semgrep  FAIL" in done.stdout and "flag.py:3: sia-subprocess" in done.stdout
    assert "ruff     pass" in done.stdout
    ok = sia("check", str(good), "--json", cwd=tmp_path, env=env)
    assert ok.returncode == 0
    data = json.loads(ok.stdout)
    assert data["passed"] and [g["name"] for g in data["gates"]] == [
        "ruff",
        "bandit",
        "semgrep",
        "secrets",
    ]
    again = json.loads(sia("check", str(good), "--json", cwd=tmp_path, env=env).stdout)
    assert all(g["cached"] == 1 for g in again["gates"])
    missing = sia("check", "nope.py", cwd=tmp_path)
    assert missing.returncode == 2 and "no such file: nope.py" in missing.stderr


def test_a_file_that_does_not_parse_fails_ruff_not_the_other_gates(tmp_path: Path) -> None:
    agent = tmp_path / "target_agent.py"
    agent.write_text("import os\ndef main(:\n    return os.sep\n")
    results = {r.name: r for r in run_gates([agent], Options(), Cache(None))}
    assert not results["ruff"].passed and "target_agent.py:2" in results["ruff"].report
    assert "could not run" not in results["semgrep"].report


def test_a_task_may_allow_named_rules_which_are_reported_and_recorded(tmp_path: Path) -> None:
    """A task's gate policy (`[agent] allow_rules`): an agent whose tool is a shell passes, the
    finding stays in the report, and Sia-Gates says what was allowed."""
    from sia_git.gates import summary

    agent = tmp_path / "shell_tool.py"
    agent.write_text('import subprocess\n\nsubprocess.run("ls", shell=True, check=False)\n')
    strict = run_gates([agent], Options(), Cache(None))
    assert not all(r.passed for r in strict)
    rules = tuple({f["rule"] for r in strict for f in r.findings})
    allowed = run_gates([agent], Options(allow_rules=rules), Cache(None))
    assert all(r.passed for r in allowed), [r.report for r in allowed]
    assert "sia-subprocess" in rules and "(allowed by the task)" in "".join(
        r.report for r in allowed
    )
    assert "semgrep=pass(allowed:" in summary(allowed) and "sia-subprocess" in summary(allowed)
