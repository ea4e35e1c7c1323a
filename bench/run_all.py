"""Every benchmark in one run, printed as one table of side-by-side ratios.

Usage: python bench/run_all.py [--only NAME ...] [--quick] [--no-write]

Each row compares two things measured in the same run, as medians of interleaved rounds (never a
single absolute time): loop overhead per generation, gate latency cold and cached, candidate
throughput with 1 and 2 workers, `sia-git log` on a synthetic 10,000-generation run, an
evaluation-cache hit against a fresh evaluation, a LoRA step against bare peft, and the offline
proposer's best score after 10 generations on each built-in task against its reference agent.
The table, with the machine it ran on and the suite's own wall time, replaces the "Latest run"
section of docs/BENCHMARKS.md (unless --no-write or --quick).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import suite  # noqa: E402
from common import ROOT, Row, machine  # noqa: E402

DOC = ROOT / "docs" / "BENCHMARKS.md"
START, END = "<!-- run_all:start -->", "<!-- run_all:end -->"


def fmt(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"


def table(rows: list[Row]) -> list[str]:
    out = [
        "| benchmark | A | median A | B | median B | A/B | unit | aim | rounds | note |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r.name} | {r.a_label} | {fmt(r.a)} | {r.b_label} | {fmt(r.b)} | "
            f"{fmt(r.ratio)} | {r.unit} | {r.aim} | {r.rounds} | {r.note} |"
        )
    return out


def write_doc(lines: list[str]) -> None:
    text = DOC.read_text(encoding="utf-8")
    block = "\n".join([START, *lines, END])
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## Latest run of the whole suite\n\n" + block + "\n"
    DOC.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(suite.ALL), help="run only these")
    parser.add_argument("--quick", action="store_true", help="a smoke run: numbers mean nothing")
    parser.add_argument("--no-write", action="store_true", help="leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()
    start = time.perf_counter()
    rows: list[Row] = []
    for name in args.only or list(suite.ALL):
        t0 = time.perf_counter()
        got = suite.ALL[name](args.quick)
        rows += got
        print(f"[{name}] done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    total = time.perf_counter() - start
    lines = [
        f"Run {dt.date.today().isoformat()} on {machine()}"
        + (" (--quick: smoke numbers)" if args.quick else "")
        + f"; the whole suite took {total / 60:.1f} minutes.",
        "",
        *table(rows),
    ]
    print("\n".join(lines))
    # Only a whole, full run replaces the table: a partial one would drop the other rows.
    if not args.no_write and not args.quick and not args.only:
        write_doc(lines)
        print(f"\nwrote the table into {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
