"""Knob forms (sia_git/levers/knob_form.py): the schema a weak model's reply is held to, and how
a reply becomes knob values (or a clear refusal)."""

from __future__ import annotations

import json

import pytest

from sia_git.levers import knob_form
from sia_git.levers import knob_source as knobmod
from sia_git.levers.search import Trial
from sia_git.tasks.task import resolve

CURRENT, SPACE = knobmod.read(resolve("penguins", None).reference_agent.read_text()) or ({}, {})


def options() -> dict[str, dict]:
    items = knob_form.schema(SPACE, CURRENT)["properties"]["changes"]["items"]["anyOf"]
    return {o["properties"]["knob"]["const"]: o["properties"]["value"] for o in items}


def test_the_schema_offers_every_knob_but_never_its_current_value() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    shown = options()
    assert set(shown) == set(SPACE)
    assert CURRENT["model"] not in shown["model"]["enum"]
    assert shown["standardize"]["enum"] == [not CURRENT["standardize"]]
    k = CURRENT["k"]
    ranges = [(r["minimum"], r["maximum"]) for r in shown["k"]["anyOf"]]
    assert ranges == [(1, k - 1), (k + 1, 25)]  # the integer knob skips its current value
    schema = knob_form.schema(SPACE, CURRENT)
    good = {"changes": [{"knob": "model", "value": "knn"}], "hypothesis": "x"}
    jsonschema.validate(good, schema)
    for bad in (
        {"changes": [{"knob": "model", "value": CURRENT["model"]}], "hypothesis": "x"},
        {"changes": [], "hypothesis": "x"},
        {"changes": [{"knob": "k", "value": k}], "hypothesis": "x"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_a_form_becomes_knob_values_and_a_bad_one_says_why() -> None:
    reply = 'Sure: {"changes": [{"knob": "model", "value": "knn"}, {"knob": "k", "value": 7}], ' \
        '"hypothesis": "neighbours   separate the sexes"} done'  # fmt: skip
    knobs, hypothesis = knob_form.read(reply, CURRENT, SPACE)
    assert knobs == {**CURRENT, "model": "knn", "k": 7}
    assert hypothesis == "neighbours separate the sexes"
    flat = json.dumps({"model": "logreg", "hypothesis": "linear"})  # settings, not changes
    assert knob_form.read(flat, CURRENT, SPACE)[0]["model"] == "logreg"
    for reply, says in [
        ("no json here", "no JSON object"),
        ('{"changes": [{"knob": "depth", "value": 3}]}', "not a knob"),
        ('{"changes": [{"knob": "k", "value": 99}]}', "outside its KNOB_SPACE"),
        (json.dumps({"changes": [{"knob": "model", "value": CURRENT["model"]}]}), "repeats"),
    ]:
        with pytest.raises(knob_form.FormError, match=says):
            knob_form.read(reply, CURRENT, SPACE)
    tried = [Trial({**CURRENT, "model": "knn", "k": 7}, 0.7, 2)]
    assert knob_form.tried({**CURRENT, "model": "knn", "k": 7}, SPACE, tried)
    assert not knob_form.tried({**CURRENT, "model": "knn", "k": 8}, SPACE, tried)
