"""Candidates are gated in sia-git's own process, many at once (sia_git/gates/batch.py): the
findings must be exactly those of the way candidates were gated before, and a person's commit
still is: pre-commit running sia-git's hook (`sia-git check`) on the files. Every gate sample
(tests/gate_samples: a flagged and a clean file per rule) and every hostile agent
(tests/hostile) is compared, each as a candidate of its own, all gated concurrently."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sia_git.core.resources import bundled
from sia_git.gates import Cache, GateResult, Options
from sia_git.gates.bandit import Bandit
from sia_git.gates.batch import GateBatcher
from sia_git.gates.precommit import CONFIG, CandidateGates, _pre_commit, merged_config
from sia_git.gates.runners import Findings, GateToolError
from tests.conftest import make_repo

TESTS = Path(__file__).parent
SAMPLES = sorted(TESTS.glob("gate_samples/*/*.py")) + sorted(
    p for p in (TESTS / "hostile").glob("*.py") if not p.name.startswith("_")
)
FORBID = ["palmerpenguins"]


def _name(sample: Path) -> str:
    """Where the sample sits in a candidate: sia-agent/agent/<folder>/<file>."""
    return f"{sample.parent.name}/{sample.name}"


def _by_file(results: list[GateResult]) -> dict[str, dict[str, list]]:
    """gate -> path -> [(line, rule, message)], from gate results."""
    out: dict[str, dict[str, list]] = {}
    for r in results:
        for f in r.findings:
            out.setdefault(r.name, {}).setdefault(f["path"], []).append(
                (f["line"], f["rule"], f["message"])
            )
    return out


def _through_pre_commit(tmp: Path) -> dict[str, dict[str, list]]:
    """One `pre-commit run` of sia-git's hook over every sample, as a person's commit runs it
    (and as every candidate was gated before): findings per gate and file."""
    repo = make_repo(tmp / "person")
    for sample in SAMPLES:
        target = repo / "sia-agent" / "agent" / _name(sample)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(sample.read_bytes())
    entry = f"{sys.executable} -m sia_git check --json --forbid-package {FORBID[0]}"
    (repo / CONFIG).write_text(merged_config(None, entry))
    env = {"SIA_GATE_CACHE": str(tmp / "cache-before")}
    paths = [f"sia-agent/agent/{_name(s)}" for s in SAMPLES]
    done = _pre_commit(["run", "--verbose", "--config", CONFIG, "--files", *paths], repo, env)
    # The hook's own output (its JSON report) follows pre-commit's status lines.
    report = done.stdout[done.stdout.index("\n{") + 1 : done.stdout.rindex("}") + 1]
    results = [GateResult.from_json(g) for g in json.loads(report)["gates"]]
    return _by_file(results)


def test_batched_gates_find_exactly_what_pre_commit_finds(tmp_path: Path) -> None:
    before = _through_pre_commit(tmp_path)
    gates = CandidateGates.for_run(
        None, tmp_path / "cache-after", FORBID, scratch=tmp_path / "setup"
    )

    def gate(i: int) -> list[GateResult]:
        sample = SAMPLES[i]
        return gates.check({_name(sample): sample.read_bytes()}, tmp_path / f"c{i}")

    with ThreadPoolExecutor(len(SAMPLES)) as pool:
        per_candidate = list(pool.map(gate, range(len(SAMPLES))))
    after: dict[str, dict[str, list]] = {}
    for results in per_candidate:
        assert [r.name for r in results] == ["ruff", "bandit", "semgrep", "secrets"]
        for gate_name, files in _by_file(results).items():
            for path, findings in files.items():
                assert path not in after.get(gate_name, {}), "a finding in two candidates"
                after.setdefault(gate_name, {})[path] = findings
    assert after == before
    assert set(before) == {"ruff", "bandit", "semgrep", "secrets"}  # each gate found something
    assert sum(len(files) for files in before.values()) > len(SAMPLES) / 2
    # Every rule's flagged sample fails, every clean one passes, candidate by candidate.
    for sample, results in zip(SAMPLES, per_candidate, strict=True):
        if sample.parent.name != "hostile":
            assert all(r.passed for r in results) == (sample.stem == "pass"), sample
    # Fewer tool runs than candidates: they were scanned together.
    assert gates.batcher.scans < len(SAMPLES)


def _bandit_command_line(paths: Sequence[Path]) -> Findings:
    """What the bandit gate reported when it ran bandit's command line (before this change)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bandit",
            "-q",
            "-f",
            "json",
            "-c",
            str(bundled("hooks") / "bandit.yaml"),
            "--severity-level",
            "medium",
            "--confidence-level",
            "medium",
            *map(str, paths),
        ],  # fmt: skip
        capture_output=True,
        text=True,
    )
    data = json.loads(done.stdout)
    found: Findings = {str(p): [] for p in paths}
    for r in data["results"]:
        found[r["filename"]].append(
            {
                "line": r["line_number"],
                "rule": r["test_id"],
                "message": f"{r['issue_text']} ({r['issue_severity'].lower()} severity)",
            }
        )
    for e in data["errors"]:
        found[e["filename"]].append({"line": 0, "rule": "error", "message": e["reason"]})
    return found


def test_bandit_in_process_reports_what_its_command_line_reports() -> None:
    found = Bandit().scan(SAMPLES, Options())
    assert found == _bandit_command_line(SAMPLES)
    assert any(f["rule"] == "B301" for fs in found.values() for f in fs)  # not vacuous


class _Flaky:
    """A gate whose tool cannot run when one particular file is in its scan."""

    name = "flaky"

    def __init__(self) -> None:
        self.runs: list[int] = []

    def key(self, opts: Options) -> str:
        return "flaky"

    def scan(self, paths: Sequence[Path], opts: Options) -> Findings:
        self.runs.append(len(paths))
        if any(b"BREAKS THE TOOL" in p.read_bytes() for p in paths):
            raise GateToolError("flaky: the tool crashed")
        return {str(p): [{"line": 1, "rule": "X1", "message": "seen"}] for p in paths}


def test_a_file_that_stops_a_tool_fails_only_its_own_candidate(tmp_path: Path) -> None:
    flaky = _Flaky()
    batcher = GateBatcher(Options(), Cache(None), [flaky], gather_s=0.2)
    files = {}
    for i in range(4):
        path = tmp_path / f"c{i}.py"
        path.write_text("# BREAKS THE TOOL\n" if i == 2 else f"x = {i}\n")
        files[i] = {f"sia-agent/agent/c{i}.py": path}
    barrier = threading.Barrier(4)

    def gate(i: int) -> GateResult:
        barrier.wait()
        [result] = batcher.check(files[i])
        return result

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(gate, range(4)))
    assert [r.passed for r in results] == [False, False, False, False]  # X1 fails the others
    assert results[2].report == "flaky: the tool crashed"
    for i in (0, 1, 3):
        assert results[i].report == f"sia-agent/agent/c{i}.py:1: X1 seen"
    assert flaky.runs[0] == 4  # one run for all four, then each alone


@pytest.mark.parametrize("user_hooks", [False, True])
def test_candidates_gated_together_get_what_each_gets_alone(
    tmp_path: Path, user_hooks: bool
) -> None:
    config = None
    if user_hooks:
        config = (
            "repos:\n- repo: local\n  hooks:\n  - id: no-todo\n    name: no TODO markers\n"
            "    entry: '(?i)todo'\n    language: pygrep\n    types: [python]\n"
        )
    together = CandidateGates.for_run(config, tmp_path / "cache1", FORBID, scratch=tmp_path / "s1")
    alone = CandidateGates.for_run(config, tmp_path / "cache2", FORBID, scratch=tmp_path / "s2")
    agents = [b"x = 1\n", b"import subprocess  # TODO\n", b"import pickle\npickle.loads(b'')\n"]

    def gate(i: int) -> list[GateResult]:
        return together.check({"target_agent.py": agents[i]}, tmp_path / f"t{i}")

    with ThreadPoolExecutor(3) as pool:
        batched = list(pool.map(gate, range(3)))
    singles = [
        alone.check({"target_agent.py": a}, tmp_path / f"a{i}") for i, a in enumerate(agents)
    ]
    assert [[r.to_json() for r in b] for b in batched] == [
        [r.to_json() for r in s] for s in singles
    ]
    assert [all(r.passed for r in b) for b in batched] == [True, False, False]
    names = [r.name for r in batched[1]]
    assert names == ["ruff", "bandit", "semgrep", "secrets"] + (
        ["hook:no-TODO-markers"] if user_hooks else []
    )
    # Non-Python files are not the built-in gates' (pre-commit's `types: [python]`).
    notes = together.check(
        {"notes.txt": b"eval(input())\n", "target_agent.py": b"x = 1\n"}, tmp_path / "n"
    )
    assert all(r.passed for r in notes)
    assert all("notes.txt" not in r.report for r in notes)


KNOB_AGENT = '''"""An agent with knobs."""

import pickle

KNOBS = {
    "model": "knn",

    "k": 5,
}  # fmt: skip
KNOB_SPACE = {
    "model": ["majority", "knn", "{secret}"],
    "k": {"low": 1, "high": 25, "type": "int"},
}


def main() -> object:
    return pickle.loads(b"")  # a bandit finding below KNOBS: its line must be the file's own
'''


def test_knob_candidates_of_one_agent_share_one_scan_and_get_their_own_results(
    tmp_path: Path,
) -> None:
    """A knob candidate is gated through its knob-free stand-in (knob_source.stand_in): every
    candidate of one agent's knob search shares one scan per gate, and each gets exactly the
    findings a scan of its own file gives, on its own lines."""
    from sia_git.levers import knob_source

    base = KNOB_AGENT.replace("{secret}", "centroid")
    variants = [
        knob_source.write(base, {"model": m, "k": k})
        for m, k in (("majority", 3), ("centroid", 25), ("knn", 11))
    ]
    shared = CandidateGates.for_run(None, tmp_path / "c1", FORBID, scratch=tmp_path / "s1")
    itself = CandidateGates.for_run(None, tmp_path / "c2", FORBID, scratch=tmp_path / "s2")
    stand_ins = {knob_source.stand_in(v) for v in variants}
    assert len(stand_ins) == 1 and None not in stand_ins
    stand_in = stand_ins.pop()
    assert stand_in is not None and stand_in.count("\n") == base.count("\n")

    def gate(i: int) -> list[GateResult]:
        files = {"target_agent.py": variants[i].encode()}
        return shared.check(files, tmp_path / f"k{i}", {"target_agent.py": stand_in.encode()})

    with ThreadPoolExecutor(3) as pool:
        via_stand_in = list(pool.map(gate, range(3)))
    own = [
        itself.check({"target_agent.py": v.encode()}, tmp_path / f"o{i}")
        for i, v in enumerate(variants)
    ]

    def seen(results: list[GateResult]) -> list[dict]:
        return [{k: v for k, v in r.to_json().items() if k != "cached"} for r in results]

    assert [seen(b) for b in via_stand_in] == [seen(s) for s in own]
    bandit = [r for r in via_stand_in[0] if r.name == "bandit"][0]
    line = next(i for i, t in enumerate(base.splitlines(), 1) if "pickle.loads" in t)
    assert not bandit.passed and bandit.findings[0]["line"] == line
    # A later candidate of the same search is answered by the cache: no scan, no batch.
    scans = shared.batcher.scans
    later = knob_source.write(base, {"model": "majority", "k": 17})
    again = shared.check(
        {"target_agent.py": later.encode()},
        tmp_path / "later",
        {"target_agent.py": stand_in.encode()},
    )
    assert shared.batcher.scans == scans and all(r.cached == 1 for r in again)
    assert seen(again) == seen(itself.check({"target_agent.py": later.encode()}, tmp_path / "o"))
    # One cache entry per gate: the stand-in's, where each variant alone made its own.
    for gate_dir in (tmp_path / "c1").iterdir():
        assert len(list(gate_dir.rglob("*.json"))) == 1, gate_dir.name
    for gate_dir in (tmp_path / "c2").iterdir():
        assert len(list(gate_dir.rglob("*.json"))) == 4, gate_dir.name


def test_a_secret_a_knob_can_take_fails_its_stand_in_too(tmp_path: Path) -> None:
    """Every value a knob can take is spelled in KNOB_SPACE, which the stand-in keeps: a key
    the search could set fails the gates whichever value a candidate has."""
    from sia_git.levers import knob_source

    key = "AKIA" + "ZQ3DT7N4RW2JVXH5"  # an AWS access key id's shape (not a real one)
    source = knob_source.write(KNOB_AGENT.replace("{secret}", key), {"model": "knn", "k": 5})
    stand_in = knob_source.stand_in(source)
    assert stand_in is not None and f'"model": "{key}"' not in stand_in
    gates = CandidateGates.for_run(None, tmp_path / "c", FORBID, scratch=tmp_path / "s")
    results = gates.check(
        {"target_agent.py": source.encode()}, tmp_path / "k", {"target_agent.py": stand_in.encode()}
    )
    secrets = [r for r in results if r.name == "secrets"][0]
    assert not secrets.passed and "AWS" in secrets.report
