"""The benchmark script runs and prints its summary line (timings are not asserted here)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def bench(script: str, *args: str, timeout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_loop_overhead_bench_prints_a_median() -> None:
    done = bench("loop_overhead.py", "--gens", "3", "--rounds", "1", timeout=300)
    assert done.returncode == 0, done.stderr
    assert "loop overhead per generation: median" in done.stdout


def test_check_speed_bench_prints_cold_and_warm_medians() -> None:
    done = bench("check_speed.py", "--rounds", "1", timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "cold (empty cache): median" in done.stdout
    assert "warm (cached):      median" in done.stdout


def test_the_whole_suite_runs_and_prints_one_table_of_ratios() -> None:
    """A --quick smoke run of every benchmark (numbers mean nothing; docs are not written)."""
    done = bench("run_all.py", "--quick", timeout=900)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| benchmark | A | median A | B | median B | A/B |")
    names = " ".join(table[1:])  # the |---| line does not start with "| "
    for want in (
        "loop overhead per generation",
        "gate latency",
        "throughput",
        "`sia-git log`",
        "`sia-git eval`",
        "LoRA step",
        "offline proposer",
        "start-up",
    ):
        assert want in names, want
    assert "skipped" not in names, "CI installs the weights extra: the LoRA row must run"


def test_the_scaling_bench_probes_every_phase_of_the_driver_on_every_executor() -> None:
    """bench/scaling.py --quick: the no-op agent evolves on the local executor, on a local Ray
    instance and on a three-node cluster (tests/raycluster.py), with the driver sharing the
    CPUs and on one of its own, and the table holds each phase's time, the driver's CPU on the
    cluster, and the Amdahl predictions."""
    done = bench("scaling.py", "--quick", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout
    rows = [line for line in done.stdout.splitlines()
            if line.startswith(("| local", "| ray", "| cluster"))]  # fmt: skip
    own_core = len(os.sched_getaffinity(0)) >= 2
    assert [r.split("|")[1].strip() for r in rows] == ["local", "ray", "cluster"] + (
        ["cluster-own-core"] if own_core else []
    )
    if not own_core:
        assert "[cluster-own-core] left out: it needs 2 CPUs or more" in done.stderr
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        phases = [float(c.removesuffix(" ms")) for c in cells[2:6]]
        assert all(p > 0 for p in phases), row  # proposing, gating, scoring, committing
    for row in rows[2:]:
        cpu = [c.strip() for c in row.strip("|").split("|")][7]
        assert cpu.startswith("**") and float(cpu.split("**")[1].removesuffix(" ms")) > 0, row
    assert "from the driver CPU at 2 candidates on cluster" in done.stdout
    mine = "from the driver CPU on a core of its own at 2 candidates on cluster"
    assert (mine in done.stdout) == own_core
    assert done.stdout.count("| 8 workers | 64 workers | 512 workers |") == 2 + own_core
    assert "Largest phase of the driver's wall time" in done.stdout
