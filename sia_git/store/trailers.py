"""Commit trailers: the generation metadata that `git interpret-trailers --parse` reads."""

from __future__ import annotations

import json

from sia_git.store.trials import Value

RUN = "Sia-Run"
GENERATION = "Sia-Generation"
PARENT = "Sia-Parent"
LEVER = "Sia-Lever"
LEVER_REASON = "Sia-Lever-Reason"
TRANSCRIPT = "Sia-Transcript"
SCORE = "Sia-Score"
SCORE_TEST = "Sia-Score-Test"
METRIC = "Sia-Metric"
MODEL = "Sia-Model"
COST = "Sia-Cost-USD"
GATES = "Sia-Gates"
KNOBS = "Sia-Knobs"
TRAIN = "Sia-Train"  # a weights generation's LoRA settings (JSON)
ADAPTER = "Sia-Adapter"  # the adapter a generation ran with: sha256:<hex> [hf://<repo>]
CANDIDATE = "Sia-Candidate"
# The paired gain over the incumbent on the selection split: "+0.043 [+0.012, +0.074] n=442
# wins=30 losses=11 p=0.0021 level=0.0083 paired" (store/evidence.py recomputes it)
EVIDENCE = "Sia-Evidence"
# How far a staged evaluation went: "sample 20 of 80" (pruned there; its Sia-Score is the
# sample's) or "full"
STAGE = "Sia-Stage"
REJECTED = "Sia-Rejected"
REVERTS = "Sia-Reverts"
REASON = "Sia-Reason"
# A generation carried over from another run by `sia-git transfer`: "<run> gen <N> <commit>"
TRANSFERRED_FROM = "Sia-Transferred-From"


def score_value(score: float | None) -> str:
    """Scores are written with 10 significant digits so that reading one back and comparing
    (with the loop's 1e-9 tolerance) gives the same verdict as the exact number."""
    return "none" if score is None else format(score, ".10g")


def render(subject: str, body: str, trailers: list[tuple[str, str]]) -> str:
    lines = [subject.strip(), ""]
    if body.strip():
        lines += [body.strip(), ""]
    for key, value in trailers:
        lines.append(f"{key}: {' '.join(str(value).split())}")
    return "\n".join(lines) + "\n"


def parse(block: str, sep: str) -> dict[str, str]:
    """Parse `%(trailers:unfold,separator=SEP)` output into a dict (last value wins)."""
    # Comprehensions, not a loop: a long run's history parses tens of thousands of these.
    pairs = [line.split(":", 1) for line in block.split(sep) if ":" in line]
    return {k: v.strip() for k, v in ((k.strip(), v) for k, v in pairs) if k}


def parents(value: str | None) -> list[int]:
    """The generations a `Sia-Parent` names: "3", or "3, 5" for a crossover (the first is the
    incumbent it tried to beat); [] for "none"."""
    return [int(p) for p in (value or "").replace(",", " ").split() if p.isdigit()]


def knobs_value(knobs: dict[str, Value]) -> str:
    return json.dumps(knobs, sort_keys=True, separators=(",", ":"))


def read_knobs(value: str | None) -> dict[str, Value] | None:
    if not value:
        return None
    try:
        data = json.loads(value)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def read_float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "", "none") else None
    except ValueError:
        return None
