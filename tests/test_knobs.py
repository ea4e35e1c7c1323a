"""Reading and rewriting an agent's KNOBS without running it."""

from __future__ import annotations

import pytest

from sia_git.levers import knob_source as knobs
from sia_git.levers.knob_source import KnobError, Range

AGENT = '''"""doc"""
import os

KNOBS = {"model": "a", "k": 3, "lr": 0.1}  # trailing comment
KNOB_SPACE = {
    "model": ["a", "b"],
    "k": {"low": 1, "high": 9, "type": "int"},
    "lr": {"low": 0.001, "high": 1.0, "log": True},
}


def main():
    return KNOBS
'''


def test_read_returns_values_and_space() -> None:
    values, space = knobs.read(AGENT)
    assert values == {"model": "a", "k": 3, "lr": 0.1}
    assert space["model"] == ["a", "b"]
    assert space["k"] == Range(1, 9, integer=True, log=False)
    assert space["lr"] == Range(0.001, 1.0, integer=False, log=True)


def test_write_changes_only_the_knobs_literal() -> None:
    new = knobs.write(AGENT, {"model": "b", "k": 7, "lr": 0.0123456789})
    assert knobs.read(new)[0] == {"model": "b", "k": 7, "lr": 0.0123457}
    assert new.split("KNOB_SPACE")[1] == AGENT.split("KNOB_SPACE")[1]
    assert new.startswith('"""doc"""\nimport os\n\nKNOBS = {\n    "model": "b",')
    compile(new, "agent", "exec")


def test_agent_without_knobs_gives_none() -> None:
    assert knobs.read("print('hi')\n") is None


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("KNOBS = {'a': 1}\nKNOB_SPACE = {'a': {'low': 2, 'high': 1}}", "low < high"),
        ("KNOBS = {'a': 1}\nKNOB_SPACE = {'b': [1, 2]}", "missing from KNOBS: b"),
        ("KNOBS = dict(a=1)\nKNOB_SPACE = {'a': [1]}", "plain literal"),
        ("KNOBS = {'a': 1}\nKNOB_SPACE = {'a': []}", "non-empty list"),
        ("KNOBS = {'a': 1}\nKNOB_SPACE = {'a': {'low': 0, 'high': 1, 'log': True}}", "low > 0"),
        ("def broken(:\n", "does not parse"),
    ],
)
def test_malformed_knobs_are_reported(source: str, message: str) -> None:
    with pytest.raises(KnobError, match=message):
        knobs.read(source)
