"""The offline proposer: deterministic, history-driven, never repeats a tried setting."""

from __future__ import annotations

from sia_git.levers import knob_source as knobs
from sia_git.levers.knobs import KnobProposer
from sia_git.levers.search import Trial
from sia_git.tasks.task import resolve

SOURCE = resolve("penguins", None).reference_agent.read_text()


def _files(source: str) -> dict[str, bytes]:
    return {"target_agent.py": source.encode()}


def test_same_history_same_proposals() -> None:
    history = [Trial(knobs.read(SOURCE)[0], 0.675, 1)]
    a = KnobProposer("run-a", "maximize").propose(_files(SOURCE), history, 2, n=3)
    b = KnobProposer("run-a", "maximize").propose(_files(SOURCE), history, 2, n=3)
    assert [p.knobs for p in a] == [p.knobs for p in b]
    assert len(a) == 3


def test_proposals_are_new_and_inside_the_space() -> None:
    current, space = knobs.read(SOURCE)
    history = [Trial(current, 0.675, 1)]
    proposals = KnobProposer("run-b", "maximize").propose(_files(SOURCE), history, 2, n=4)
    seen = {tuple(sorted(current.items()))}
    for p in proposals:
        key = tuple(sorted(p.knobs.items()))
        assert key not in seen
        seen.add(key)
        assert p.knobs["model"] in space["model"]
        assert 1 <= p.knobs["k"] <= 25
        assert knobs.read(p.source)[0] == p.knobs
        assert p.lever == "knobs"
        assert "## What changed" in p.improvement.body and "## Why" in p.improvement.body


def test_exhausted_space_proposes_nothing() -> None:
    src = "KNOBS = {'a': 1}\nKNOB_SPACE = {'a': [1, 2]}\n"
    history = [Trial({"a": 1}, 0.5, 1), Trial({"a": 2}, 0.4, 2)]
    assert KnobProposer("r", "maximize").propose(_files(src), history, 3, n=2) == []


def test_history_steers_the_search() -> None:
    """With a history where one region scores well, TPE proposes near it more often."""
    src = "KNOBS = {'x': 0.5}\nKNOB_SPACE = {'x': {'low': 0.0, 'high': 1.0}}\n"
    history = [Trial({"x": i / 20}, 1 - abs(i / 20 - 0.8), i) for i in range(20)]
    picks = KnobProposer("r", "maximize").propose(_files(src), history, 21, n=8)
    near = sum(abs(p.knobs["x"] - 0.8) < 0.25 for p in picks)
    assert near >= 5, [p.knobs for p in picks]


def test_last_untried_setting_is_found() -> None:
    """Regression: TPE kept re-proposing tried values and the run stopped with one untried."""
    src = "KNOBS = {'offset': 3}\nKNOB_SPACE = {'offset': [0, 1, 2, 3, 4, 5]}\n"
    history = [Trial({"offset": v}, 0.0, 1) for v in (1, 2, 3, 4, 5)]
    for run in ("a", "b", "c", "d", "e"):
        [p] = KnobProposer(run, "maximize").propose(_files(src), history, 4, n=2)
        assert p.knobs == {"offset": 0}


def test_continuous_space_falls_back_to_random_sampling() -> None:
    src = "KNOBS = {'k': 1}\nKNOB_SPACE = {'k': {'low': 1, 'high': 3, 'type': 'int'}}\n"
    history = [Trial({"k": 1}, 0.5, 1), Trial({"k": 2}, 0.1, 2)]
    [p] = KnobProposer("r", "maximize").propose(_files(src), history, 3, n=1)
    assert p.knobs == {"k": 3}


def test_a_long_history_still_steers_the_search_from_its_oldest_best() -> None:
    """Past search.MODELED scored trials TPE models the history's best and the most recent
    rest (its cost per ask grows with what it models): a best region found early and never
    revisited still draws the proposals."""
    from sia_git.levers.search import MODELED, modeled

    src = "KNOBS = {'x': 0.5}\nKNOB_SPACE = {'x': {'low': 0.0, 'high': 1.0}}\n"
    good = [Trial({"x": 0.8 + i / 1000}, 0.9 + i / 1000, 1) for i in range(10)]
    failed = [Trial({"x": 0.01 * i}, None, 2) for i in range(1, 40)]
    rest = [Trial({"x": (i * 0.37) % 0.5}, 0.2 + (i % 7) / 100, 2 + i // 8) for i in range(300)]
    history = good + failed + rest
    kept = modeled(history, "maximize")
    assert len(kept) == MODELED and all(t.score is not None for t in kept)
    best = sorted(good, key=lambda t: -(t.score or 0))[:7]
    assert all(t in kept for t in best) and kept[-57:] == rest[-57:]
    assert modeled(rest[:MODELED], "maximize") == rest[:MODELED]  # short histories: whole
    picks = KnobProposer("r", "maximize").propose(_files(src), history, 40, n=8)
    near = sum(abs(p.knobs["x"] - 0.8) < 0.1 for p in picks)
    assert near >= 5, [p.knobs for p in picks]
