"""Ref and note names: built and parsed by one module, and parsing inverts building."""

from __future__ import annotations

import pytest

from sia_git.store import refs


def test_a_runs_names() -> None:
    assert refs.branch("r-1") == "sia/r-1" and refs.branch_ref("r-1") == "refs/heads/sia/r-1"
    assert refs.review_branch("r-1", 4) == "sia/r-1-g0004"
    assert refs.attempts("r-1", 12) == "refs/sia/r-1/attempts/g0012"
    assert refs.rejected("r-1", 3, 2) == "refs/sia/r-1/rejected/g0003-c2"
    assert refs.base("r-1") == "refs/sia/r-1/base"
    assert refs.gen_name(12345) == "g12345"


@pytest.mark.parametrize(
    "name",
    [
        "refs/sia/run-20261201-1/attempts/g0004",
        "refs/sia/run/rejected/g0010-c3",
        "refs/sia/run/confirmed/g0002",
        "refs/sia/run/stops/g0007",
        "refs/sia/run/base",
    ],
)
def test_parsing_inverts_building(name: str) -> None:
    parsed = refs.RunRef.parse(name)
    assert parsed is not None and parsed.name() == name


@pytest.mark.parametrize(
    "name",
    [
        "refs/sia/reviews/3",
        "refs/sia/run/attempts/x",
        "refs/heads/sia/run",
        "refs/sia/run/other/g0001",
    ],
)
def test_names_that_are_not_a_runs_records(name: str) -> None:
    assert refs.RunRef.parse(name) is None


def test_every_ref_and_note_name_is_the_documented_one() -> None:
    """These names are a contract: clones, pushes and other tools find a run by them."""
    assert refs.NOTES == "refs/notes/sia"
    assert refs.HUB_NOTES == "refs/notes/sia-hub"
    assert refs.EVAL_NOTES == "refs/notes/sia-eval"
    assert refs.REVIEWS == "refs/sia/reviews/"
    assert refs.confirmed("r", 12) == "refs/sia/r/confirmed/g0012"
    assert refs.stops("r", 3) == "refs/sia/r/stops/g0003"
    assert refs.transcript("r", 2, 1, name="t.json") == "refs/sia/r/attempts/g0002:c1/t.json"
    assert refs.gen_name(12345) == "g12345"  # past four digits the number is whole
    assert refs.RunRef.parse("refs/sia/r/stops/g12345") == refs.RunRef("r", "stops", 12345)
    assert refs.RunRef.parse(" refs/sia/r/base\n") == refs.RunRef("r", "base")
    assert refs.RunRef("r", "confirmed", 7).name() == "refs/sia/r/confirmed/g0007"


def test_a_parsed_ref_is_a_value() -> None:
    import dataclasses

    ref = refs.RunRef("r", "base")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.kind = "stops"  # type: ignore[misc]
