"""Read and rewrite the knobs a target agent declares, without running its code.

An agent declares `KNOBS = {...}` (current values) and `KNOB_SPACE = {...}` (allowed values: a
list for a choice, or {"low", "high", "type": "int"|"float", "log": bool} for a range) as plain
literals at module level. They are read with `ast.literal_eval`: generated code is never imported.
"""

from __future__ import annotations

import ast
import functools
import io
import itertools
import json
import tokenize
from dataclasses import dataclass
from typing import Any

from sia_git.core import pysource
from sia_git.store.trials import Value as Value  # knob values (re-exported)


class KnobError(ValueError):
    pass


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    integer: bool
    log: bool

    def contains(self, v: Value) -> bool:
        if isinstance(v, bool) or not isinstance(v, int | float):
            return False
        return self.low <= v <= self.high and (not self.integer or float(v).is_integer())


Space = dict[str, list[Value] | Range]


def _assignments(source: str) -> dict[str, ast.Assign]:
    """The module-level KNOBS and KNOB_SPACE statements (read, never changed, by the callers)."""
    return dict(_parsed(source))


@functools.lru_cache(maxsize=64)
def _parsed(source: str) -> dict[str, ast.Assign]:
    # A candidate's source is read here several times on its way (proposal, check, gates,
    # record): parsing a few-hundred-line agent once, not each time, was a tenth of a
    # fast agent's generation (bench/efficacy.py, penguins).
    try:
        tree = pysource.parse(source)
    except SyntaxError as exc:
        raise KnobError(f"agent does not parse: {exc}") from None
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in ("KNOBS", "KNOB_SPACE"):
                found[target.id] = node
    return found


def _literal(node: ast.Assign, name: str) -> dict[str, Any]:
    try:
        value = ast.literal_eval(node.value)
    except ValueError:
        raise KnobError(f"{name} must be a plain literal dict") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise KnobError(f"{name} must be a dict with string keys")
    return value


def _range(name: str, spec: dict[str, Any]) -> Range:
    unknown = set(spec) - {"low", "high", "type", "log"}
    if unknown or "low" not in spec or "high" not in spec:
        raise KnobError(
            f"KNOB_SPACE[{name!r}] needs 'low' and 'high' (and optional 'type', "
            f"'log'){'; unknown ' + ', '.join(sorted(unknown)) if unknown else ''}"
        )
    kind = spec.get("type", "float")
    if kind not in ("int", "float"):
        raise KnobError(f"KNOB_SPACE[{name!r}]['type'] must be 'int' or 'float'")
    low, high = spec["low"], spec["high"]
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in (low, high)):
        raise KnobError(f"KNOB_SPACE[{name!r}] bounds must be numbers")
    if low >= high or (spec.get("log") and low <= 0):
        raise KnobError(f"KNOB_SPACE[{name!r}] needs low < high (and low > 0 with log)")
    return Range(float(low), float(high), kind == "int", bool(spec.get("log", False)))


def read(source: str) -> tuple[dict[str, Value], Space] | None:
    """Return (KNOBS, KNOB_SPACE) of an agent, or None when it declares no knobs."""
    found = _assignments(source)
    if "KNOBS" not in found or "KNOB_SPACE" not in found:
        return None
    knobs = _literal(found["KNOBS"], "KNOBS")
    raw = _literal(found["KNOB_SPACE"], "KNOB_SPACE")
    space: Space = {}
    for name, spec in raw.items():
        if isinstance(spec, list) and spec:
            space[name] = spec
        elif isinstance(spec, dict):
            space[name] = _range(name, spec)
        else:
            raise KnobError(f"KNOB_SPACE[{name!r}] must be a non-empty list or a range dict")
    missing = set(space) - set(knobs)
    if missing:
        raise KnobError(f"KNOB_SPACE names knobs missing from KNOBS: {', '.join(sorted(missing))}")
    return knobs, space


def problem(source: str) -> str | None:
    """What is wrong with an agent's knobs, for a check before a run: a KNOB_SPACE that does not
    read, KNOBS without a KNOB_SPACE (or the reverse), or a value outside its space."""
    try:
        parsed = read(source)
    except KnobError as exc:
        return str(exc)
    found = _assignments(source)
    if parsed is None:
        if "KNOBS" in found or "KNOB_SPACE" in found:
            have, lack = ("KNOBS", "KNOB_SPACE") if "KNOBS" in found else ("KNOB_SPACE", "KNOBS")
            return f"it declares {have} but no {lack}: the knob search needs both"
        return None
    knobs, space = parsed
    for name, spec in space.items():
        if not inside(spec, knobs[name]):
            return f"KNOBS[{name!r}] = {knobs[name]!r} is outside its KNOB_SPACE"
    return None


def inside(spec: list[Value] | Range, value: Value) -> bool:
    """Whether `value` is one a knob with KNOB_SPACE entry `spec` may take."""
    return spec.contains(value) if isinstance(spec, Range) else value in spec


def _format(value: Value, *, exact: bool = False) -> str:
    if isinstance(value, float):
        return repr(value if exact else float(f"{value:.6g}"))
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def write(source: str, knobs: dict[str, Value], *, exact: bool = False) -> str:
    """Return `source` with its KNOBS literal replaced by `knobs` (everything else untouched).

    One knob per line with a blank line between: git's merge treats changes on adjacent lines
    as one conflict, so without the gap a plain `git revert` of an older knob generation would
    conflict with any later change to the knob below it. `# fmt: skip` keeps formatters from
    closing the gaps. Floats are rounded to 6 significant digits unless `exact`."""
    node = _assignments(source)["KNOBS"]
    lines = source.splitlines(keepends=True)
    if knobs:
        pairs = [f"    {json.dumps(k)}: {_format(v, exact=exact)}" for k, v in knobs.items()]
        body = ",\n\n".join(pairs)
        new = f"KNOBS = {{\n{body},\n}}  # fmt: skip\n"
    else:
        new = "KNOBS = {}\n"
    assert node.end_lineno is not None
    return "".join(lines[: node.lineno - 1]) + new + "".join(lines[node.end_lineno :])


def spaced(source: str) -> str:
    """`source` with its KNOBS laid out the way `write` lays them out, values unchanged (as
    generation 1 is committed, so the first knob generation changes only its own lines);
    unchanged when it declares no readable knobs, or has comments inside them (a person's
    words are not dropped for a layout)."""
    try:
        parsed = read(source)
    except KnobError:
        return source
    if parsed is None or _commented(source, _assignments(source)["KNOBS"]):
        return source
    return write(source, parsed[0], exact=True)


def _commented(source: str, node: ast.Assign) -> bool:
    """Whether a comment other than `write`'s own `# fmt: skip` is on the statement's lines."""
    end = node.end_lineno or node.lineno
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return any(
        t.type == tokenize.COMMENT and node.lineno <= t.start[0] and t.string != "# fmt: skip"
        for t in itertools.takewhile(lambda t: t.start[0] <= end, tokens)
    )


def without_knobs(source: str) -> str | None:
    """`source` with its KNOBS statement taken out (None when it has none): two versions
    that agree on it differ only in knob values or their layout."""
    node = _assignments(source).get("KNOBS")
    if node is None or node.end_lineno is None:
        return None
    lines = source.splitlines(keepends=True)
    return "".join(lines[: node.lineno - 1] + lines[node.end_lineno :])


def stand_in(source: str) -> str | None:
    """The source the gates may read in this one's place: its KNOBS with each searched knob at
    its first allowed value (a range's low end). Only when every value is inside KNOB_SPACE and
    KNOBS is laid out as `write` lays it, so every other line is the same text on the same line
    and every value is a literal that KNOB_SPACE, in the same file, already spells. Then all
    of a knob search's candidates of one agent share one gate scan (docs/DESIGN.md, "Gates").
    None where that does not hold: the gates read the file itself."""
    try:
        parsed = read(source)
    except KnobError:
        return None
    if parsed is None:
        return None
    knobs, space = parsed
    if any(not inside(space[k], v) for k, v in knobs.items() if k in space):
        return None
    if write(source, knobs, exact=True) != source:
        return None
    first = {k: _first(space[k]) if k in space else v for k, v in knobs.items()}
    return write(source, first, exact=True)


def _first(spec: list[Value] | Range) -> Value:
    if isinstance(spec, list):
        return spec[0]
    return int(spec.low) if spec.integer else spec.low


def tidy(value: Value) -> Value:
    """Round floats the way `write` does, so recorded and written values agree."""
    return float(f"{value:.6g}") if isinstance(value, float) else value
