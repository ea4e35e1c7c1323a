"""Reading and rewriting an agent's KNOBS without running it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sia_git.levers import knob_source as knobs
from sia_git.levers.knob_source import KnobError, Range
from sia_git.tasks.task import resolve
from tests.conftest import Runner, git

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
        ("def broken(:\n", "^agent does not parse: "),
        ("KNOBS = {1: 2}\nKNOB_SPACE = {'a': [1]}", "^KNOBS must be a dict with string keys$"),
        ("KNOBS = {'a': 1}\nKNOB_SPACE = [1]", "^KNOB_SPACE must be a dict with string keys$"),
        ("KNOBS = {'a': 1}\nKNOB_SPACE = {'c': [1], 'b': [2]}", "missing from KNOBS: b, c$"),
    ],
)
def test_malformed_knobs_are_reported(source: str, message: str) -> None:
    with pytest.raises(KnobError, match=message):
        knobs.read(source)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{'low': 1}", "KNOB_SPACE['a'] needs 'low' and 'high' (and optional 'type', 'log')"),
        ("{'low': 1, 'high': 2, 'step': 1}",
         "KNOB_SPACE['a'] needs 'low' and 'high' (and optional 'type', 'log'); unknown step"),
        ("{'low': 1, 'high': 2, 'step': 1, 'by': 2}",
         "KNOB_SPACE['a'] needs 'low' and 'high' (and optional 'type', 'log'); unknown by, step"),
        ("{'low': 1, 'high': 2, 'type': 'str'}",
         "KNOB_SPACE['a']['type'] must be 'int' or 'float'"),
        ("{'low': 'x', 'high': 2}", "KNOB_SPACE['a'] bounds must be numbers"),
        ("{'low': 1, 'high': True}", "KNOB_SPACE['a'] bounds must be numbers"),
        ("{'low': 2, 'high': 2}", "KNOB_SPACE['a'] needs low < high (and low > 0 with log)"),
        ("{'low': 0, 'high': 2, 'log': True}",
         "KNOB_SPACE['a'] needs low < high (and low > 0 with log)"),
        ("5", "KNOB_SPACE['a'] must be a non-empty list or a range dict"),
    ],
)  # fmt: skip
def test_each_bad_range_is_named_exactly(spec: str, message: str) -> None:
    with pytest.raises(KnobError) as err:
        knobs.read(f"KNOBS = {{'a': 1}}\nKNOB_SPACE = {{'a': {spec}}}\n")
    assert str(err.value) == message


def test_a_range_with_log_and_bounds_that_touch() -> None:
    _, space = knobs.read("KNOBS = {'a': 1}\nKNOB_SPACE = {'a': {'low': 0.5, 'high': 2, "
                          "'log': True, 'type': 'float'}}\n")  # fmt: skip
    assert space["a"] == Range(0.5, 2.0, integer=False, log=True)
    with pytest.raises(KnobError, match="must be a dict with string keys"):
        knobs.read("KNOBS = {1: 2}\nKNOB_SPACE = {'a': [1]}\n")
    with pytest.raises(KnobError, match="^KNOBS must be a plain literal dict$"):
        knobs.read("KNOBS = dict()\nKNOB_SPACE = {'a': [1]}\n")


def test_a_range_contains_its_bounds_and_integers_only_when_integer() -> None:
    r = Range(1, 9, integer=True, log=False)
    assert r.contains(1) and r.contains(9) and r.contains(5.0)
    assert not r.contains(0) and not r.contains(10) and not r.contains(2.5)
    assert not r.contains(True) and not r.contains("3")
    assert Range(0.5, 1.5, integer=False, log=False).contains(0.75)


def test_only_top_level_single_assignments_count() -> None:
    source = "def f():\n    KNOBS = {'a': 1}\n\nKNOB_SPACE = {'a': [1]}\nx = KNOBS = {}\n"
    assert knobs.read(source) is None
    assert knobs.read("KNOBS = {'a': 1}\n") is None and knobs.read("KNOB_SPACE = {}\n") is None
    # Other assignment targets beside them (attributes, subscripts) are passed over.
    beside = "cfg.x = 1\nd['k'] = 2\nKNOBS = {'a': 1}\nKNOB_SPACE = {'a': [1, 2]}\n"
    assert knobs.read(beside) == ({"a": 1}, {"a": [1, 2]})


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("KNOBS = {'a': 1}\n", "it declares KNOBS but no KNOB_SPACE: the knob search needs both"),
        ("KNOB_SPACE = {'a': [1]}\n",
         "it declares KNOB_SPACE but no KNOBS: the knob search needs both"),
        ("KNOBS = {'a': 3}\nKNOB_SPACE = {'a': [1, 2]}\n",
         "KNOBS['a'] = 3 is outside its KNOB_SPACE"),
        ("KNOBS = {'a': 30}\nKNOB_SPACE = {'a': {'low': 1, 'high': 9}}\n",
         "KNOBS['a'] = 30 is outside its KNOB_SPACE"),
        ("KNOBS = {'a': 2}\nKNOB_SPACE = {'a': [1, 2]}\n", None),
        ("print(1)\n", None),
        ("KNOBS = {'a': 1}\nKNOB_SPACE = {'a': []}\n",
         "KNOB_SPACE['a'] must be a non-empty list or a range dict"),
    ],
)  # fmt: skip
def test_problem_names_what_is_wrong(source: str, problem: str | None) -> None:
    assert knobs.problem(source) == problem


def test_written_values_are_rounded_and_quoted() -> None:
    new = knobs.write("KNOBS = {}\nx = 1\n", {"s": 'a"b', "f": 1 / 3, "i": 3, "b": True})
    assert new == ('KNOBS = {\n    "s": "a\\"b",\n\n    "f": 0.333333,\n\n    "i": 3,\n\n'
                   '    "b": True,\n}  # fmt: skip\nx = 1\n')  # fmt: skip
    assert knobs.tidy(1 / 3) == 0.333333 and knobs.tidy(7) == 7 and knobs.tidy("x") == "x"


def test_a_knob_value_with_a_line_break_makes_a_valid_one_line_subject(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    """word-sentiment-smollm2's template knob has a value with a newline; every candidate that
    chose it was an invalid proposal ("its improvement's title must be one non-empty line")."""
    task = tmp_path / "penguins"
    shutil.copytree(resolve("penguins", None).root, task)
    agent = task / "reference" / "target_agent.py"
    source = agent.read_text().replace("KNOBS = {\n", 'KNOBS = {\n    "note": "a",\n', 1)
    source = source.replace("KNOB_SPACE = {\n", 'KNOB_SPACE = {\n    "note": ["a", "b\\nc"],\n', 1)
    agent.write_text(source)
    done = sia("evolve", "--task-dir", str(task), "--max-gen", "4", "--candidates", "4",
               "--accept", "1", cwd=repo)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    assert "invalid proposal" not in done.stdout
    assert "note a→b\\nc" in done.stdout  # shown escaped, on one line


def test_spaced_lays_knobs_out_for_git_merges_and_keeps_every_value_exact() -> None:
    """Generation 1 is committed with its KNOBS spaced, so the first knob generation changes
    only its own line; values (a float with more than 6 digits too) and other code stay."""
    source = (
        "import os\nKNOBS = {'a': 0.123456789, 'b': 'x'}\nKNOB_SPACE = {'a': [0.123456789], "
        "'b': ['x']}\nprint(1)\n"
    )
    spaced = knobs.spaced(source)
    assert spaced.startswith('import os\nKNOBS = {\n    "a": 0.123456789,\n\n    "b": "x",\n}')
    assert knobs.read(spaced) == knobs.read(source) and spaced.endswith("print(1)\n")
    assert knobs.spaced(spaced) == spaced
    assert knobs.spaced("print('no knobs')\n") == "print('no knobs')\n"
    assert knobs.spaced("def broken(:\n") == "def broken(:\n"
    assert knobs.without_knobs(spaced) == knobs.without_knobs(source)
    assert knobs.without_knobs("x = 1\n") is None
    commented = "KNOBS = {\n    'a': 1,  # why one\n}\nKNOB_SPACE = {'a': [1]}\n"
    assert knobs.spaced(commented) == commented  # a person's words are not dropped


def test_git_reverts_an_older_knob_write_beside_a_later_one_on_the_next_knob(
    tmp_path: Path,
) -> None:
    """What the knob lever writes: generation 2 sets `model`, generation 3 sets `features`
    (the next knob); a plain `git revert` of generation 2 applies and keeps 3's value."""
    reference = resolve("penguins", None).reference_agent.read_text()
    first = knobs.spaced(reference)
    values = knobs.read(first)[0]
    second = knobs.write(first, {**values, "model": "knn"})
    third = knobs.write(second, {**values, "model": "knn", "features": "morpho"})
    git(tmp_path, "init", "-q")
    for n, text in enumerate((first, second, third), 1):
        (tmp_path / "agent.py").write_text(text)
        git(tmp_path, "add", "agent.py")
        git(tmp_path, "commit", "-qm", f"generation {n}")
    git(tmp_path, "revert", "--no-edit", "HEAD~1")
    assert knobs.read((tmp_path / "agent.py").read_text())[0] == {**values, "features": "morpho"}


def test_only_a_file_in_the_search_s_own_layout_and_space_has_a_stand_in() -> None:
    """knobs.stand_in: the gates read it in the file's place only when the two can differ
    in nothing but KNOBS values (same lines, every value one KNOB_SPACE allows)."""
    agent = (
        'KNOBS = {"a": 1, "b": "x"}\n'
        'KNOB_SPACE = {"a": {"low": 1, "high": 9, "type": "int"}, "b": ["y", "x"]}\n'
        "print(KNOBS)\n"
    )
    assert knobs.stand_in(agent) is None  # not laid out as the search writes it
    laid_out = knobs.write(agent, {"a": 7, "b": "x"})
    first = knobs.write(agent, {"a": 1, "b": "y"})
    assert knobs.stand_in(laid_out) == first
    assert knobs.stand_in(knobs.write(agent, {"a": 3, "b": "y"})) == first
    assert knobs.stand_in(knobs.write(agent, {"a": 12, "b": "y"})) is None  # outside
    assert knobs.stand_in("print(1)\n") is None  # no knobs
    # A knob that KNOB_SPACE does not search keeps its value: it is code, not a knob value.
    fixed = knobs.write(
        agent.replace('"b": "x"}', '"b": "x", "c": 2}', 1), {"a": 4, "b": "x", "c": 2}
    )
    assert '"c": 2' in (knobs.stand_in(fixed) or "")
