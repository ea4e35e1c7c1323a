"""The package's shape, read with `ast`: its packages form layers and every import points
down (or within its package), with no cycle; function-level imports and `if TYPE_CHECKING:`
imports count too (they hide an arrow, they do not remove it). No module is over 400 lines,
no module sits at the package's top but its entry points, and no function outside the CLI layer
takes more than three positional parameters."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "sia_git"

# Lowest first: a package imports only from its own layer or the ones below it.
LAYERS = [
    ["core"],
    ["gitrepo"],
    ["store", "llm"],
    ["settings", "tasks", "sandbox", "gates"],
    ["levers", "gateway", "localmodel", "audit"],
    ["weights", "agents", "forges", "report"],
    ["evolve"],
    ["commands"],
    ["cli"],
]
ENTRY_POINTS = {"sia_git", "sia_git.__main__"}  # the package itself and `python -m sia_git`
MAX_POSITIONAL = 3


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports_of(name: str, source: str, known: set[str], is_package: bool = False) -> set[str]:
    """The known modules `source` imports, wherever the import statement is."""
    tree = ast.parse(source)
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
    return (found & known) - {name}


def import_graph(modules: dict[str, str] | None = None) -> dict[str, set[str]]:
    """Module -> the modules it imports; `modules` (name -> source) for a made-up package."""
    if modules is None:
        paths = _modules()
        sources = {n: p.read_text(encoding="utf-8") for n, p in paths.items()}
        packages = {n for n, p in paths.items() if p.name == "__init__.py"}
    else:
        sources, packages = modules, set()
    known = set(sources)
    return {n: imports_of(n, src, known, n in packages) for n, src in sources.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _layer(module: str, layers: list[list[str]]) -> int | None:
    parts = module.split(".")
    if module in ENTRY_POINTS or len(parts) < 2:
        return None
    return next((i for i, names in enumerate(layers) if parts[1] in names), -1)


def upward(graph: dict[str, set[str]], layers: list[list[str]]) -> list[str]:
    """Every import that points to a higher layer, or from or to a package no layer names."""
    out = []
    for mod, deps in sorted(graph.items()):
        a = _layer(mod, layers)
        for dep in sorted(deps):
            b = _layer(dep, layers)
            if a is None or b is None:
                continue  # the entry points, which may import anything
            if a < 0 or b < 0 or b > a:
                out.append(f"{mod} -> {dep}")
    return out


def test_every_import_points_down_a_layer_and_there_is_no_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 100 and "sia_git.evolve.loop" in graph["sia_git.commands.evolve"]
    assert upward(graph, LAYERS) == []
    assert cycles(graph) == []


def test_the_checks_find_an_upward_arrow_and_a_cycle_through_type_checking() -> None:
    made_up = {
        "sia_git.core.a": "from sia_git.evolve import b\n",  # core reaching up to evolve
        "sia_git.evolve.b": "x = 1\n",
        "sia_git.store.c": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sia_git.store import d\n"
        ),
        "sia_git.store.d": "def f():\n    from sia_git.store import c\n",
    }
    graph = import_graph(made_up)
    assert upward(graph, LAYERS) == ["sia_git.core.a -> sia_git.evolve.b"]
    assert cycles(graph) == [["sia_git.store.c", "sia_git.store.d"]]
    assert upward({"sia_git.nowhere.x": {"sia_git.core.y"}}, LAYERS) == [
        "sia_git.nowhere.x -> sia_git.core.y"
    ]


def test_the_cycle_finder_finds_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_the_entry_points_sit_at_the_top() -> None:
    top = {n for n in _modules() if n.count(".") <= 1 and n not in ENTRY_POINTS}
    top = {n for n in top if not (PACKAGE / n.split(".")[-1]).is_dir()}
    assert top == set(), top


def test_no_module_is_over_400_lines() -> None:
    """Small modules with one job each: a module past 400 lines is doing two."""
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert not long, long


def positional_over(source: str, limit: int = MAX_POSITIONAL) -> list[str]:
    """Functions of `source` taking more than `limit` positional parameters (self and cls do
    not count): the rest must be keyword-only. A library's method that an override must match
    says so on its `def` line (`# positional: ...`)."""
    out = []
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if "# positional:" in lines[node.lineno - 1]:
                continue
            names = [a.arg for a in (*node.args.posonlyargs, *node.args.args)]
            names = [n for n in names if n not in ("self", "cls")]
            if len(names) > limit:
                out.append(f"{node.name}({', '.join(names)})")
    return out


def test_no_function_outside_the_cli_takes_more_than_three_positional_parameters() -> None:
    found = {
        name: bad
        for name, path in _modules().items()
        if not name.startswith("sia_git.cli")
        and (bad := positional_over(path.read_text(encoding="utf-8")))
    }
    assert not found, f"{sum(map(len, found.values()))} functions: {found}"


def test_the_counter_counts() -> None:
    src = (
        "def f(a, b, c, d): ...\ndef g(a, b, c, *, d): ...\n"
        "class K:\n    def m(self, a, b, c): ...\n"
        "    def handle(self, a, b, c, d):  # positional: the library calls it so\n        ...\n"
    )
    assert positional_over(src) == ["f(a, b, c, d)"]


def test_design_md_maps_every_module() -> None:
    """docs/DESIGN.md's module map lists exactly the tree's modules, by package."""
    import re

    text = (PACKAGE.parent / "docs" / "DESIGN.md").read_text(encoding="utf-8")
    block = text.split("Module map (every module, by package;", 1)[1].split("```")[1]
    listed = set()
    for line in block.strip().splitlines():
        folder, _, mods = line.partition(":")
        pkg = folder.strip().rstrip("/").replace("/", ".")
        listed |= {f"{pkg}.{m}" for m in mods.split()}
    tree = {n for n, p in _modules().items() if p.name != "__init__.py"}
    assert listed == tree, {"not in DESIGN.md": sorted(tree - listed),
                            "no such module": sorted(listed - tree)}  # fmt: skip
    assert re.search(r"\| 0 \| `core/`", text)
