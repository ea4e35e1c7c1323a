"""Mutation testing of the core modules: does each module's own test file notice when the
module's code is changed in small ways a bug would change it?

For each module, every mutant is one change, made with `ast` and written into a copy of the
checkout: a comparison flipped (`<` to `<=`, `==` to `!=`, `in` to `not in`), a boolean
operator swapped (`and`/`or`), a `not` dropped, an arithmetic operator swapped, a number
moved by one, a boolean or a non-empty string constant changed, a returned value replaced by
None. The module's test file runs against the mutant (`pytest -x`); a failing or hanging run
kills it, a passing run lets it survive. The score per module is killed / all; survivors are
listed with their line, so each is either killed by a new test or explained in
docs/BENCHMARKS.md.

    python bench/mutation.py [--module splits ...] [--json out.json]

About 1-2 s per mutant on 2 cores (a pytest start each); the default set takes ~15 minutes.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# module -> its direct tests
MODULES = {
    "splits": ("sia_git/tasks/splits.py", ["tests/test_split_plan.py", "tests/test_splits.py"]),
    "redact": ("sia_git/core/redact.py", ["tests/test_redact.py"]),
    "refs": ("sia_git/store/refs.py", ["tests/test_refs.py"]),
    "knobs": ("sia_git/levers/knob_source.py", ["tests/test_knobs.py"]),
    "records": ("sia_git/store/records.py", ["tests/test_records.py"]),
    "selection": ("sia_git/evolve/selection.py", ["tests/test_selection.py"]),
    "recording": ("sia_git/evolve/recording/build.py", ["tests/test_recording.py"]),
}
SWAP_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
            ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
            ast.Is: ast.IsNot, ast.IsNot: ast.Is}  # fmt: skip
SWAP_BIN = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
            ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv}  # fmt: skip


@dataclass
class Mutant:
    line: int
    what: str
    source: str
    killed: bool | None = None


def _typing(node: ast.AST) -> bool:
    """A `Literal[...]` type, or an `if TYPE_CHECKING:` block."""
    if isinstance(node, ast.Subscript):
        return ast.unparse(node.value) in ("Literal", "typing.Literal")
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _inert(tree: ast.AST) -> set[int]:
    """ids of the nodes a mutation of which changes nothing the program does (equivalent
    mutants, never counted): docstrings, type annotations and `Literal[...]` types."""
    out: set[int] = set()

    def all_of(node: ast.AST | None) -> None:
        if node is not None:
            out.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                out.add(id(value))
        if isinstance(node, ast.arg | ast.AnnAssign):
            all_of(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            all_of(node.returns)
        elif _typing(node):
            all_of(node)
    return out


def _changes(node: ast.AST, skip: set[int]) -> Iterator[tuple[str, ast.AST]]:
    """(description, replacement) for each mutation of `node` itself."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in SWAP_CMP:
                new = copy.deepcopy(node)
                new.ops[i] = SWAP_CMP[type(op)]()
                yield f"{type(op).__name__} -> {type(new.ops[i]).__name__}", new
    elif isinstance(node, ast.BoolOp):
        new = copy.deepcopy(node)
        new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield f"{type(node.op).__name__} -> {type(new.op).__name__}", new
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not dropped", copy.deepcopy(node.operand)
    elif isinstance(node, ast.BinOp) and type(node.op) in SWAP_BIN:
        new = copy.deepcopy(node)
        new.op = SWAP_BIN[type(node.op)]()
        yield f"{type(node.op).__name__} -> {type(new.op).__name__}", new
    elif isinstance(node, ast.Constant) and id(node) not in skip:
        v = node.value
        if isinstance(v, bool):
            yield f"{v} -> {not v}", ast.Constant(not v)
        elif isinstance(v, int | float):
            yield f"{v} -> {v + 1}", ast.Constant(v + 1)
        elif isinstance(v, str) and v:
            yield f"{v[:20]!r} -> 'XX'+...", ast.Constant("XX" + v + "XX")
    elif (
        isinstance(node, ast.Return)
        and node.value is not None
        and not (isinstance(node.value, ast.Constant) and node.value.value is None)
    ):
        yield "return None", ast.Return(ast.Constant(None))


def mutants(source: str) -> list[Mutant]:
    tree = ast.parse(source)
    skip = _inert(tree)
    found: list[Mutant] = []
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            items = value if isinstance(value, list) else [value]
            for i, child in enumerate(items):
                if not isinstance(child, ast.AST) or isinstance(child, ast.JoinedStr):
                    continue
                if id(child) in skip:
                    continue
                for what, new in _changes(child, skip):
                    ast.copy_location(new, child)
                    if isinstance(value, list):
                        value[i] = new
                    else:
                        setattr(parent, field, new)
                    try:
                        text = ast.unparse(ast.fix_missing_locations(tree))
                    finally:
                        if isinstance(value, list):
                            value[i] = child
                        else:
                            setattr(parent, field, child)
                    found.append(Mutant(getattr(child, "lineno", 0), what, text))
    # Inside f-strings only the expressions are code; their text is messages.
    return [m for m in found if m.source != ast.unparse(tree)]


def run_module(name: str, work: Path, timeout: float) -> list[Mutant]:
    rel, tests = MODULES[name]
    target = work / rel
    original = target.read_text(encoding="utf-8")
    found = mutants(original)
    try:
        for m in found:
            target.write_text(m.source, encoding="utf-8")
            try:
                done = subprocess.run(
                    [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                     "-m", "not slow", *tests],
                    cwd=work, capture_output=True, timeout=timeout,
                )  # fmt: skip
                m.killed = done.returncode != 0
            except subprocess.TimeoutExpired:
                m.killed = True
    finally:
        target.write_text(original, encoding="utf-8")
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--module", action="append", choices=sorted(MODULES))
    p.add_argument("--json", type=Path, help="write every mutant's result here")
    p.add_argument("--timeout", type=float, default=120.0)
    args = p.parse_args()
    names = args.module or list(MODULES)
    with tempfile.TemporaryDirectory(prefix="sia-mutation-") as tmp:
        work = Path(tmp) / "checkout"
        shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns(".git", "*.pyc", "__pycache__",
                                                                  "mutants", ".venv"))  # fmt: skip
        results, rows, total, killed = {}, [], 0, 0
        for name in names:
            start = time.monotonic()
            found = run_module(name, work, args.timeout)
            k = sum(bool(m.killed) for m in found)
            total, killed = total + len(found), killed + k
            share = k / len(found) if found else 1.0
            rows.append(f"| {name} | {len(found)} | {k} | {share:.0%} | "
                        f"{time.monotonic() - start:.0f} s |")  # fmt: skip
            results[name] = [
                {"line": m.line, "mutation": m.what, "killed": m.killed} for m in found
            ]
            for m in found:
                if not m.killed:
                    print(f"survived: {name}:{m.line}: {m.what}", flush=True)
    print("| module | mutants | killed | score | time |\n|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"| all | {total} | {killed} | {killed / max(total, 1):.0%} | |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
