"""evolve/confirm.py: an accepted generation is re-run with other seeds; a gain that does not
hold (a failed re-run, or a mean not above the incumbent) is reverted, with the record written
first; a record whose revert a kill cut off is finished on resume; nothing is re-run for
generation 1, a revert, or with confirmation off."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from sia_git.evolve import confirm
from sia_git.evolve.context import EPS
from sia_git.evolve.outcome import Outcome
from sia_git.store import records
from sia_git.store.history import Entry, RunHistory
from sia_git.store.records import ConfirmRecord, Status
from sia_git.tasks.evaluation import Evaluation, SplitScore


class Fake:
    """The run context confirm reads, recording what it asks for."""

    def __init__(self, reruns: list[float | None], runs: int = 2, exhausted: str = "") -> None:
        self.reruns, self.asked = list(reruns), []
        self.cfg = SimpleNamespace(confirm_runs=runs, model_dump=lambda: {"review": "none"})
        self.models = SimpleNamespace(budget=SimpleNamespace(exhausted=exhausted))
        self.select, self.run_id, self.repo, self.lines = "dev", "r", None, []
        self.offset = 0  # where the re-runs' right items start (see _items)
        self.dev_inputs = None  # no dev-only inputs made: re-runs get the whole inputs

    def echo(self, line: str) -> None:
        self.lines.append(line)

    def beats(self, score: float, incumbent: float) -> bool:
        return score - incumbent > EPS

    def adapter_at(self, rev: str) -> None:
        return None

    def attempt(self, index: int, proposal: Any, files: Any, **kw: Any) -> Outcome:
        self.asked.append(kw)
        score = self.reruns.pop(0)
        o = Outcome(0, None, {}, Status.OK if score is not None else Status.CRASHED)
        if score is not None:
            items = _items(score, offset=self.offset)
            o.evaluation = Evaluation({"dev": SplitScore(score, items=items)}, [])
        o.cost_usd = 0.5
        return o


def _items(score: float, n: int = 100, offset: int = 0) -> list[dict[str, str]]:
    """`score * n` of `n` items right, from item `offset` on."""
    right = round(score * n)
    return [{"id": str(i), "status": "correct" if offset <= i < offset + right else "wrong"}
            for i in range(n)]  # fmt: skip


def tip(gen: int = 3, score: float = 0.8, kind: str = "generation") -> Entry:
    t = {"Sia-Generation": str(gen), "Sia-Score": str(score)} if kind == "generation" else {}
    return Entry(f"{gen:040x}", f"gen {gen}: x", kind, t)


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seen: dict[str, Any] = {"reverts": []}
    monkeypatch.setattr(confirm, "agent_files", lambda repo, sha: {"target_agent.py": b""})
    monkeypatch.setattr(records, "read_attempt",
                        lambda repo, run, gen: SimpleNamespace(incumbent_score=0.7))  # fmt: skip
    monkeypatch.setattr(confirm.rec, "record_confirmation",
                        lambda ctx, done: seen.__setitem__("record", done))  # fmt: skip

    def revert(ctx: Any, entry: Entry, why: str, *, score: float | None) -> str:
        seen["reverts"].append((entry.gen, why, score))
        return "f" * 40

    monkeypatch.setattr(confirm.rec, "revert_generation", revert)
    monkeypatch.setattr(confirm.review, "follow", lambda *a, **k: None)
    return seen


def hist_of(entry: Entry, confirmed: set[int] | None = None) -> RunHistory:
    return RunHistory("r", None, branch=[tip(1, 0.5), entry], confirmed=confirmed or set())


def test_a_gain_that_holds_is_kept(written: dict[str, Any]) -> None:
    ctx = Fake([0.78, 0.82])
    confirm.confirm_tip(ctx, hist_of(tip()))
    done: ConfirmRecord = written["record"]
    assert done.held and done.scores == [0.8, 0.78, 0.82] and done.generation == 3
    assert done.mean == pytest.approx(0.8) and done.incumbent_score == 0.7 and done.cost_usd == 1.0
    assert [k["seed_offset"] for k in ctx.asked] == [1, 2]  # other seeds, same generation
    assert written["reverts"] == [] and ctx.lines == ["gen 3: confirmation held (0.8000, "
                                                      "0.7800, 0.8200)"]  # fmt: skip


def test_a_mean_not_above_the_incumbent_is_reverted_with_why(written: dict[str, Any]) -> None:
    ctx = Fake([0.6, 0.7])  # mean 0.7, the incumbent's
    confirm.confirm_tip(ctx, hist_of(tip()))
    assert not written["record"].held
    [(gen, why, score)] = written["reverts"]
    assert gen == 3 and score == 0.7
    assert why == ("gain did not hold on confirmation: runs scored 0.8000, 0.6000, 0.7000 "
                   "(mean 0.7000), not above the incumbent's 0.7000")  # fmt: skip


def test_a_failed_rerun_is_a_gain_that_did_not_hold(written: dict[str, Any]) -> None:
    confirm.confirm_tip(Fake([0.9, None]), hist_of(tip()))
    assert not written["record"].held and written["record"].scores[-1] is None
    assert "runs scored 0.8000, 0.9000, failed" in written["reverts"][0][1]


@pytest.mark.parametrize(("entry", "runs"), [(tip(1), 2), (tip(3, kind="revert"), 2), (tip(3), 0)])
def test_nothing_is_rerun_for_generation_1_a_revert_or_with_confirmation_off(
    written: dict[str, Any], entry: Entry, runs: int
) -> None:
    ctx = Fake([0.1, 0.1], runs=runs)
    confirm.confirm_tip(ctx, hist_of(entry))
    assert ctx.asked == [] and "record" not in written and written["reverts"] == []


def test_a_spent_budget_postpones_confirmation(written: dict[str, Any]) -> None:
    ctx = Fake([0.1, 0.1], exhausted="spent")
    confirm.confirm_tip(ctx, hist_of(tip()))
    assert ctx.asked == [] and "record" not in written


def test_a_record_whose_revert_was_cut_off_is_finished(
    written: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    done = ConfirmRecord(generation=3, commit="x", scores=[0.8, 0.5], mean=0.65,
                         incumbent_score=0.7, held=False, cost_usd=0.0)  # fmt: skip
    monkeypatch.setattr(records, "read_confirm", lambda repo, run, gen: done)
    ctx = Fake([])
    confirm.confirm_tip(ctx, hist_of(tip(), confirmed={3}))
    assert ctx.asked == [] and [g for g, _, _ in written["reverts"]] == [3]
    held = ConfirmRecord(**{**done.model_dump(), "held": True})
    monkeypatch.setattr(records, "read_confirm", lambda repo, run, gen: held)
    written["reverts"].clear()
    confirm.confirm_tip(ctx, hist_of(tip(), confirmed={3}))
    assert written["reverts"] == []


def test_a_stochastic_agents_re_runs_enter_the_paired_test(
    written: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Accepted at 0.80 against 0.70 (10 items more of 100, significant at its level); its
    re-runs score 0.74 and 0.76, right on other items than the incumbent too: the mean 0.767
    is still above 0.70, but pooled item by item (40 wins, 20 losses) the gain is within noise
    at the level it was accepted at, so it is reverted and says so."""
    from sia_git.evolve import selection
    from sia_git.store import evidence

    accepted = tip()
    level = 0.0019
    accepted.trailers["Sia-Parent"] = "1"
    accepted.trailers["Sia-Evidence"] = evidence.Evidence(100, 10, 0, level).trailer()
    monkeypatch.setattr(
        selection, "items_of",
        lambda ctx, e: evidence.statuses(_items(0.8 if e.gen == 3 else 0.7)),
    )  # fmt: skip
    noisy = Fake([0.74, 0.76])
    noisy.offset = 10
    confirm.confirm_tip(noisy, hist_of(accepted))
    done: ConfirmRecord = written["record"]
    assert not done.held
    pooled = evidence.parse(done.evidence)
    assert pooled is not None and (pooled.n, pooled.wins, pooled.losses) == (300, 40, 20)
    assert pooled.p > level
    [(_, why, _)] = written["reverts"]
    assert "pooled with its re-runs the gain +0.0667" in why and "within noise" in why, why
    # The same re-runs of a clearly better agent hold.
    written["reverts"].clear()
    confirm.confirm_tip(Fake([0.80, 0.80]), hist_of(accepted))
    assert written["record"].held and written["reverts"] == []
