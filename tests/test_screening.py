"""`--search screen` varies each knob of the incumbent alone before TPE models the space
(levers/screening.py): a gain held by one knob is found in as many trials as there are knobs.
`tpe` does not; the default, `auto`, screens only where a candidate is slow to score."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sia_git.core.extensions import STRATEGIES
from sia_git.levers.knob_source import Range
from sia_git.levers.knobs import KnobProposer
from sia_git.levers.lora import SPACE as SETTINGS
from sia_git.levers.lora import propose as lora_propose
from sia_git.levers.screening import screen
from sia_git.levers.search import Trial
from sia_git.levers.strategies import SLOW_RUN_S, TPE, Ask, Screen, get
from sia_git.tasks.task import resolve
from tests.conftest import Runner, git, run_ids

SPACE = {
    "template": ["a", "b", "c"],
    "shots": Range(0, 8, integer=True, log=False),
    "temperature": Range(0.0, 1.0, integer=False, log=False),
    "votes": [1, 3, 5],
}
CURRENT = {"template": "a", "shots": 0, "temperature": 0.2, "votes": 1}


def _changed(knobs: dict) -> list[str]:
    return [k for k in SPACE if knobs[k] != CURRENT[k]]


def test_each_knob_is_varied_alone_in_declared_order_with_ranges_at_their_far_end() -> None:
    out = screen(SPACE, CURRENT, [], seed_key="t/0", generation=2, n=8)
    assert [_changed(k) for k in out] == [["template"], ["shots"], ["temperature"], ["votes"]]
    assert out[1]["shots"] == 8  # 0 is the low end: the far end is the high one
    assert out[2]["temperature"] == 1.0  # 0.2 is nearer 0.0
    assert out[0]["template"] in ("b", "c") and out[3]["votes"] in (3, 5)


def test_a_knob_already_varied_alone_is_not_screened_again_and_then_tpe_takes_over() -> None:
    history = [
        Trial(dict(CURRENT), 0.5, 1),
        Trial({**CURRENT, "template": "b"}, 0.5, 2),
        Trial({**CURRENT, "shots": 8}, 0.69, 2),
    ]
    first = screen(SPACE, CURRENT, history, seed_key="t/0", generation=3, n=4)
    assert [_changed(k) for k in first] == [["temperature"], ["votes"]]
    ask = Ask(space=SPACE, current=CURRENT, history=history, seed_key="t/0",
              direction="maximize", generation=3, n=4)  # fmt: skip
    out = Screen().propose(ask)
    assert out[:2] == first  # the screening first, TPE for the rest
    assert len(out) == 4
    keys = [tuple(sorted(k.items())) for k in out]
    assert len(set(keys)) == 4
    assert not any(k == t.knobs for k in out for t in history)
    # Every knob varied alone: nothing left to screen.
    done = history + [Trial(k, 0.5, 3) for k in first]
    assert screen(SPACE, CURRENT, done, seed_key="t/0", generation=4, n=4) == []


def test_the_same_history_gives_the_same_screening() -> None:
    a = screen(SPACE, CURRENT, [], seed_key="t/0", generation=2, n=4)
    assert a == screen(SPACE, CURRENT, [], seed_key="t/0", generation=2, n=4)


def test_the_knob_proposer_screens_a_real_agent_first() -> None:
    source = (
        'KNOBS = {"shots": 0, "system": "none"}\n'
        'KNOB_SPACE = {"shots": {"low": 0, "high": 8, "type": "int"}, '
        '"system": ["none", "terse"]}\n'
    )
    files = {"target_agent.py": source.encode()}
    history = [Trial({"shots": 0, "system": "none"}, 0.5, 1)]
    out = KnobProposer("t/0", "maximize", get("screen")).propose(files, history, 2, n=2)
    assert sorted(p.knobs.items() for p in out) == sorted(
        [{"shots": 8, "system": "none"}.items(), {"shots": 0, "system": "terse"}.items()]
    )
    assert [p.improvement.title for p in out] == ["knobs shots 0→8", "knobs system none→terse"]
    assert "Screening:" in out[0].improvement.body and "`shots`'s" in out[0].improvement.body
    # Once both knobs were tried alone, TPE's proposals are not called screening.
    history += [Trial(p.knobs, 0.5, 2) for p in out]
    later = KnobProposer("t/0", "maximize", get("screen")).propose(files, history, 3, n=1)
    assert later and "Screening:" not in later[0].improvement.body


def test_lora_settings_are_not_screened() -> None:
    """A LoRA range's far end (lr 5e-3) collapses a small model: the weights lever's settings
    come from the defaults and TPE, not from one-setting-at-a-time extremes."""
    defaults, *others = lora_propose(
        [], seed_key="t", direction="maximize", generation=2, n=4, seed=0
    )
    changed = [[k for k in SETTINGS if getattr(hp, k) != getattr(defaults, k)] for hp in others]
    assert len(others) == 3 and any(len(c) > 1 for c in changed), changed
    assert all(hp.lr not in (1e-4, 5e-3) for hp in others)


def test_tpe_does_not_screen() -> None:
    ask = Ask(space=SPACE, current=CURRENT, history=[], seed_key="t/0", direction="maximize",
              generation=2, n=4)  # fmt: skip
    assert [_changed(k) for k in Screen().propose(ask)] == [
        ["template"],
        ["shots"],
        ["temperature"],
        ["votes"],
    ]
    assert not all(len(_changed(k)) == 1 for k in TPE().propose(ask))
    assert get("tpe").name == "tpe" and isinstance(get("screen"), Screen)


@pytest.mark.parametrize(
    ("seconds", "picked"), [(None, "tpe"), (0.3, "tpe"), (SLOW_RUN_S, "screen"), (40.0, "screen")]
)
def test_the_default_screens_only_where_a_candidate_is_slow_to_score(
    seconds: float | None, picked: str
) -> None:
    """Screening spends a generation's slots on one knob each: where candidates are cheap and a
    gain needs several knobs at once (penguins, 0.2 s a run), that delayed the first gain from
    generation 2 to 8; where they are slow (smollm2, about 40 s) it found +12 points that TPE's
    random start did not."""
    ask = Ask(space=SPACE, current=CURRENT, history=[], seed_key="t/0", direction="maximize",
              generation=2, n=4, run_seconds=seconds)  # fmt: skip
    auto = get(STRATEGIES.default)
    assert auto.name == "auto" and auto.resolve(ask).name == picked
    assert auto.propose(ask) == get(picked).propose(ask)


def test_tpe_does_not_repeat_a_setting_the_screening_proposed_in_the_same_generation() -> None:
    """`avoid` was accepted and ignored: TPE could propose a screening candidate twice, one
    candidate scored twice in a generation."""
    small = {"shots": [0, 8], "votes": [1, 3]}
    current = {"shots": 0, "votes": 1}
    first = [{"shots": 8, "votes": 1}, {"shots": 0, "votes": 3}]
    from sia_git.levers.search import search

    out = search(small, current, [], seed_key="t/0", direction="maximize", generation=2, n=3,
                 avoid=first)  # fmt: skip
    assert out == [{"shots": 8, "votes": 3}]  # the one setting neither tried nor proposed


@pytest.mark.slow
def test_a_run_whose_first_generation_is_slow_screens_first(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    """The default strategy reads how long generation 1's agent ran from its attempt record:
    penguins' reference made to take over SLOW_RUN_S (its candidates, with other knobs, do
    not), so generation 2's candidates each vary one knob alone and say so."""
    task = tmp_path / "penguins"
    shutil.copytree(resolve("penguins", None).root, task)
    agent = task / "reference" / "target_agent.py"
    first = '    train = read(args.dataset_dir / "train.csv")'
    reference = {"model": "threshold", "features": "mass", "standardize": False,
                 "per_species": False, "k": 5, "l2": 1.0}  # fmt: skip
    slow = f"    if KNOBS == {reference!r}:\n        time.sleep({SLOW_RUN_S + 0.5})\n"
    agent.write_text(agent.read_text().replace(first, slow + first))
    done = sia("evolve", "--task-dir", str(task), "--max-gen", "2", "--candidates", "3", cwd=repo)
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    record = json.loads(git(repo, "show", f"refs/sia/{run_id}/attempts/g0002:attempt.json"))
    knobs = [c["knobs"] for c in record["candidates"]]
    assert len(knobs) == 3
    assert all(sum(k[name] != reference[name] for name in reference) == 1 for k in knobs), knobs
    bodies = [git(repo, "log", "-1", "--format=%B", c["commit"]) for c in record["candidates"]]
    assert all("Screening:" in b and "strategy `screen`" in b for b in bodies)
