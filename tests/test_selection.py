"""evolve/selection.py: a generation's verdict. The best candidate on the selection split is
accepted only when it beats the incumbent by more than the margin; every other candidate gets
the reason it was not; only the accepted one's sealed score is released."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from sia_git.evolve import selection
from sia_git.evolve.context import EPS
from sia_git.evolve.outcome import Outcome
from sia_git.store.history import Entry, RunHistory
from sia_git.store.records import Status
from sia_git.tasks.evaluation import Evaluation, SplitScore
from sia_git.tasks.task import resolve

TASK = resolve("penguins", None)


def ctx(direction: str = "maximize", margin: float = 0.0) -> Any:
    """What selection reads of a run's context: the task, the selection split, the margin."""
    task = SimpleNamespace(
        manifest=SimpleNamespace(metric=SimpleNamespace(direction=direction)),
        name="t",
    )

    def beats(score: float, incumbent: float) -> bool:
        d = score - incumbent if direction == "maximize" else incumbent - score
        return d > margin + EPS

    return SimpleNamespace(select="dev", task=task, cfg=SimpleNamespace(min_improvement=margin),
                           beats=beats)  # fmt: skip


def out(index: int, dev: float | None, status: Status = Status.OK, test: float = 0.5) -> Outcome:
    o = Outcome(index, None, {}, status, reason="boom" if status != Status.OK else "")
    if dev is not None:
        o.evaluation = Evaluation({"dev": SplitScore(dev)}, [])
        o.withheld = {"test": SplitScore(test, n_items=100)}
    return o


def test_the_best_candidate_that_beats_the_incumbent_is_accepted() -> None:
    outs = [out(1, 0.70), out(2, 0.80), out(3, 0.75)]
    accepted, reasons = selection.select_best(ctx(), outs, 0.72)
    assert accepted == 2
    assert reasons == {
        1: "not the best candidate of its generation (c2 was)",
        3: "not the best candidate of its generation (c2 was)",
    }


def test_a_best_candidate_that_does_not_beat_the_incumbent_is_rejected_with_both_scores() -> None:
    accepted, reasons = selection.select_best(ctx(), [out(1, 0.70), out(2, 0.72)], 0.72)
    assert accepted is None
    assert reasons[2] == "0.7200 does not beat the incumbent's 0.7200"
    assert reasons[1] == "not the best candidate of its generation (c2 was)"


def test_the_margin_is_named_in_the_reason_and_must_be_passed() -> None:
    accepted, reasons = selection.select_best(ctx(margin=0.05), [out(1, 0.76)], 0.72)
    assert accepted is None
    assert reasons[1] == "0.7600 does not beat the incumbent's 0.7200 by more than 0.05"
    accepted, _ = selection.select_best(ctx(margin=0.05), [out(1, 0.78)], 0.72)
    assert accepted == 1


def test_lower_is_better_picks_the_lowest() -> None:
    outs = [out(1, 0.30), out(2, 0.20), out(3, 0.25)]
    accepted, _ = selection.select_best(ctx("minimize"), outs, 0.28)
    assert accepted == 2
    accepted, reasons = selection.select_best(ctx("minimize"), outs, 0.19)
    assert accepted is None and "0.2000 does not beat the incumbent's 0.1900" in reasons[2]


def test_a_tie_goes_to_the_first_candidate() -> None:
    accepted, reasons = selection.select_best(ctx(), [out(1, 0.8), out(2, 0.8)], 0.5)
    assert accepted == 1 and reasons[2].endswith("(c1 was)")


def test_failed_candidates_are_named_with_their_status_and_never_chosen() -> None:
    outs = [out(1, None, Status.CRASHED), out(2, 0.9, Status.GATE_FAILED), out(3, 0.6)]
    accepted, reasons = selection.select_best(ctx(), outs, 0.5)
    assert accepted == 3
    assert reasons[1] == "crashed: boom" and reasons[2] == "gate-failed: boom"
    accepted, reasons = selection.select_best(ctx(), outs[:2], 0.5)
    assert accepted is None and set(reasons) == {1, 2}


def test_no_incumbent_score_accepts_the_best() -> None:
    accepted, _ = selection.select_best(ctx(), [out(1, 0.1), out(2, 0.2)], None)
    assert accepted == 2


@pytest.mark.parametrize("accept", [True, False])
def test_only_the_accepted_candidate_gets_a_released_sealed_score(
    accept: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selection, "incumbent_items", lambda ctx, hist: None)  # no records here
    real = SimpleNamespace(**vars(ctx()))
    real.task, real.tests = TASK, 0
    outs = [out(1, 0.9 if accept else 0.4, test=0.83), out(2, 0.3, test=0.99)]
    first = Entry("a" * 40, "gen 1", "generation", {"Sia-Generation": "1", "Sia-Score": "0.5",
                                                   "Sia-Score-Test": "0.6"})  # fmt: skip
    hist = RunHistory("r", None, branch=[first])
    v = selection.judge(real, hist, 2, outcomes=outs, score=0.5)
    assert v.accepted == (1 if accept else None) and v.gen == 2 and v.incumbent_score == 0.5
    assert all(o.withheld == {} for o in outs)  # nothing withheld survives the verdict
    assert outs[1].score("test") is None  # a rejected candidate: no sealed score at all
    if accept:  # 0.83 is a whole 0.05 step above the run's 0.60: released, rounded down
        assert outs[0].score("test") == pytest.approx(0.8)
        assert v.incumbent is first
    else:
        assert outs[0].score("test") is None


def paired_out(index: int, right: int, n: int = 440) -> Outcome:
    """A candidate right on its first `right` of `n` items."""
    o = out(index, right / n)
    items = [{"id": str(i), "status": "correct" if i < right else "wrong"} for i in range(n)]
    o.evaluation.splits["dev"].items = items  # type: ignore[union-attr]
    return o


def paired_ctx(accept: float = 0.05) -> Any:
    c = ctx()
    c.cfg.accept = accept
    return c


def test_a_gain_of_a_few_items_is_noise_and_a_large_one_is_accepted_with_its_evidence() -> None:
    incumbent = {str(i): i < 300 for i in range(440)}  # 300 of 440 right
    # Three more items right (+0.7 points): what seeds 1 and 2 of the tabular task accepted.
    accepted, reasons = selection.select_best(
        paired_ctx(), [paired_out(1, 303)], 300 / 440, items=incumbent, comparison=1
    )
    assert accepted is None
    assert "+0.0068" in reasons[1] and "is within noise (needs p <= 0.025)" in reasons[1]
    # Thirty more (+6.8 points): far beyond what chance gives.
    strong = paired_out(1, 330)
    accepted, _ = selection.select_best(
        paired_ctx(), [strong], 300 / 440, items=incumbent, comparison=1
    )
    assert accepted == 1
    assert strong.evidence is not None and strong.evidence.wins == 30
    assert strong.evidence.trailer().startswith("+0.0682 [+0.0446, +0.0917] n=440 wins=30 losses=0")


def test_the_level_tightens_with_each_generation_and_accept_1_turns_the_test_off() -> None:
    incumbent = {str(i): i < 300 for i in range(440)}
    # p = 2**-9 ~ 0.002 is enough at the 2nd comparison, not at the 10th (0.05*6/pi^2/100).
    accepted, _ = selection.select_best(
        paired_ctx(), [paired_out(1, 309)], 300 / 440, items=incumbent, comparison=2
    )
    assert accepted == 1
    accepted, reasons = selection.select_best(
        paired_ctx(), [paired_out(1, 309)], 300 / 440, items=incumbent, comparison=10
    )
    assert accepted is None and "within noise" in reasons[1]
    accepted, _ = selection.select_best(
        paired_ctx(1.0), [paired_out(1, 301)], 300 / 440, items=incumbent, comparison=10
    )
    assert accepted == 1
