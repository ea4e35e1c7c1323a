"""bench/efficacy.py's table states what happened, including an old search that scored nothing."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.conftest import ROOT


def load_efficacy(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201 - a module loaded by path
    """bench/efficacy.py, imported as the bench runs it (bench/ on sys.path); both changes to
    sys are undone after the test."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("efficacy", ROOT / "bench" / "efficacy.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # Its dataclass looks its module up by name.
    monkeypatch.setitem(sys.modules, "efficacy", module)
    spec.loader.exec_module(module)
    return module


def test_an_old_search_that_scored_nothing_is_said_in_words_not_as_nan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    eff = load_efficacy(monkeypatch)
    arms = [
        eff.Arm("t", "old", 0.49, 0.49, 1, 150, 0, 480.0),
        eff.Arm("t", "new", 0.49, 0.61, 2, 150, 4, 480.0),
        eff.Arm("u", "old", 0.6, 0.7, 3, 100, 10, 120.0),
        eff.Arm("u", "new", 0.6, 0.7, 3, 100, 5, 120.0, 0.5),
    ]
    text = "\n".join(eff.table(arms, "aaa", "bbb"))
    assert "nan" not in text
    assert "- t: candidates per hour, the old search scored none in 8.0 min; the new one 4" in text
    assert (
        "- u: candidates per hour, new/old: 0.50; the agents alone (mean run 0.50 s, 2 at a "
        "time) allow at most 14400/h here, 48.00x the old search's" in text
    )
    assert "| t | new | 0.4900 ± 0.0800 | 0.6100 ± 0.0781 | +0.1200 | +2.9 | 2 | 4 | 30 |" in text
