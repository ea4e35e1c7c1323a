"""Parsing agent source from many threads: the spurious CPython SystemError is retried."""

from __future__ import annotations

import ast
import threading

import pytest

from sia_git.core import pysource


def test_a_spurious_recursion_depth_error_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ast.parse
    calls = []

    def flaky(source: str) -> ast.Module:
        calls.append(source)
        if len(calls) == 1:
            raise SystemError("AST constructor recursion depth mismatch (before=39, after=26)")
        return real(source)

    monkeypatch.setattr(ast, "parse", flaky)
    tree = pysource.parse("KNOBS = {'a': 1}\n")
    assert isinstance(tree.body[0], ast.Assign) and len(calls) == 2


def test_parses_from_many_threads_agree() -> None:
    source = "\n".join(f"def f{i}(x):\n    return [x + {i} for _ in range(3)]" for i in range(50))
    expected = ast.dump(ast.parse(source))
    seen: list[str] = []

    def work() -> None:
        for _ in range(20):
            seen.append(ast.dump(pysource.parse(source)))

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 120 and set(seen) == {expected}
