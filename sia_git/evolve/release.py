"""A committed generation's sealed scores, released by sealed.py's rule against what the run
released before (its branch's trailers). Candidates that are not committed never get one."""

from __future__ import annotations

from sia_git.evolve.outcome import Outcome
from sia_git.store import history as H
from sia_git.store import trailers as T
from sia_git.tasks import sealed
from sia_git.tasks.evaluation import SplitScore
from sia_git.tasks.task import Task


def trailer(split: str) -> str:
    return T.SCORE_TEST if split == "test" else f"Sia-Score-{split}"


def release(task: Task, hist: H.RunHistory | None, out: Outcome) -> None:
    """Publish `out`'s withheld sealed scores into its evaluation as their released values
    (`hist`: the run so far, None for generation 1)."""
    direction = task.manifest.metric.direction
    for split, s in sorted(out.withheld.items()):
        published = _published(hist, split)
        eta = sealed.step(s.n_items, published[0] if published else s.score)
        best = (max if direction == "maximize" else min)(published) if published else None
        value = sealed.release(s.score, best, eta, direction=direction)
        assert out.evaluation is not None
        out.evaluation.splits[split] = SplitScore(value)
    out.withheld = {}


def _published(hist: H.RunHistory | None, split: str) -> list[float]:
    """The values the run released before (its committed generations), oldest first."""
    if hist is None:
        return []
    gens = sorted((e for e in hist.branch if e.kind == "generation"), key=lambda e: e.gen or 0)
    values = (T.read_float(e.trailers.get(trailer(split))) for e in gens)
    return [v for v in values if v is not None]
