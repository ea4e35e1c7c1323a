"""The text edit protocol, for models (and servers) without tool calls: the Feedback-Agent's
tools are offered as a described menu the model answers in plain text, and edits come as
search/replace blocks or whole files, the formats aider found to work across models.

    TOOL read_trace {"generation": 2, "name": "stdout.txt"}

    target_agent.py
    <<<<<<< SEARCH
    exact lines of the file
    =======
    their replacement
    >>>>>>> REPLACE

    FILE helpers.py
    ```python
    the whole new file
    ```

    FINISH {"subject": "...", "diagnosis": "...", ...}

Parsing is strict: anything malformed is a ParseError whose message says what to fix."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

from sia_git.core import jsontext

DEFAULT_PATH = "target_agent.py"
_END = ">>>>>>> REPLACE"
_TOOL = re.compile(r"^\s*TOOL:?\s+([A-Za-z_]\w*)\s*(.*)$")
_FILE = re.compile(r"^\s*FILE:?\s+(\S+)\s*$")
_PATH = re.compile(r"^[`*]*([\w./-]+\.\w+)[`*:]*$")
_PY_FENCE = re.compile(r"^```(?:python|py)?[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)

# Shown once to a model whose reply could not be read: a whole correct reply beats a rule.
EXAMPLE = """target_agent.py
<<<<<<< SEARCH
    threshold = 0.5
=======
    threshold = 0.4
>>>>>>> REPLACE
FINISH {"subject": "Lower the threshold to 0.4", "diagnosis": "most misses are near 0.5", \
"hypothesis": "a lower threshold catches them", "change": "threshold 0.5 -> 0.4", \
"lever": "harness", "lever_reason": "a code change"}"""


class ParseError(ValueError):
    """The reply does not follow the protocol; the message says what to fix."""


@dataclass
class Action:
    kind: str  # tool | edit | file | finish
    name: str = ""  # a tool's name, or the file an edit/file is for
    args: dict[str, Any] = field(default_factory=dict)
    search: str = ""
    replace: str = ""


def parse(text: str) -> list[Action]:
    """The actions in a reply, in order."""
    lines = text.replace("\r\n", "\n").split("\n")
    actions: list[Action] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if m := _TOOL.match(line):
            actions.append(Action("tool", m.group(1), _json_args(m.group(2), f"TOOL {m.group(1)}")))
        elif line.strip() == "<<<<<<< SEARCH":
            path = _path_before(lines, i)
            search, replace, i = _block(lines, i)
            actions.append(Action("edit", path, search=search, replace=replace))
        elif m := _FILE.match(line):
            body, i = _fenced(lines, i + 1, m.group(1))
            actions.append(Action("file", m.group(1), search="", replace=body))
        elif line.strip().startswith("FINISH"):
            rest = "\n".join([line.strip()[len("FINISH") :].lstrip(": "), *lines[i + 1 :]])
            actions.append(Action("finish", args=_first_object(rest)))
            break
        i += 1
    if not actions:
        raise ParseError(
            "no TOOL line, SEARCH/REPLACE block, FILE block or FINISH found in your reply"
        )
    return actions


def whole_agent(text: str) -> str | None:
    """The agent in a reply that is one fenced Python block and nothing of the protocol (as
    many models answer: aider accepts it too), when the block is a whole program that parses;
    else None."""
    blocks = _PY_FENCE.findall(text.replace("\r\n", "\n"))
    if len(blocks) != 1:
        return None
    body = blocks[0]
    try:
        tree = ast.parse(body)
    except SyntaxError:
        return None
    defines = any(isinstance(n, ast.FunctionDef | ast.ClassDef | ast.If) for n in tree.body)
    return body if defines and len(body.splitlines()) >= 5 else None


def _json_args(raw: str, what: str) -> dict[str, Any]:
    raw = raw.strip().strip("`")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ParseError(
            f"{what}: the arguments must be one JSON object on the same line"
        ) from None
    if not isinstance(value, dict):
        raise ParseError(f"{what}: the arguments must be a JSON object")
    return value


def _path_before(lines: list[str], i: int) -> str:
    for j in range(i - 1, max(-1, i - 3), -1):
        text = lines[j].strip()
        if not text or text.startswith("```"):
            continue
        m = _PATH.match(text)
        return m.group(1) if m else DEFAULT_PATH
    return DEFAULT_PATH


def _block(lines: list[str], start: int) -> tuple[str, str, int]:
    try:
        middle = lines.index("=======", start + 1)
        end = next(
            k for k in range(middle + 1, len(lines)) if lines[k].strip() == ">>>>>>> REPLACE"
        )
    except StopIteration:
        raise ParseError(
            "a SEARCH block must go on with a line `=======` and end with `>>>>>>> REPLACE` "
            "(was the reply cut off? send fewer, smaller blocks)"
        ) from None
    search = "\n".join(lines[start + 1 : middle])
    replace = "\n".join(lines[middle + 1 : end])
    return search + ("\n" if search else ""), replace + ("\n" if replace else ""), end


def _fenced(lines: list[str], start: int, path: str) -> tuple[str, int]:
    if start >= len(lines) or not lines[start].strip().startswith("```"):
        raise ParseError(f"FILE {path}: the next line must open a ``` fence with the whole file")
    for k in range(start + 1, len(lines)):
        if lines[k].strip() == "```":
            return "\n".join(lines[start + 1 : k]) + "\n", k
    raise ParseError(f"FILE {path}: the ``` fence is never closed (was the reply cut off?)")


def _first_object(text: str) -> dict[str, Any]:
    try:
        return jsontext.first_object(text)
    except ValueError as exc:
        raise ParseError(f"FINISH must be followed by a JSON object: {exc}") from None


def menu(specs: list[dict[str, Any]], allow_rewrite: bool) -> str:
    """How to act, for a model that answers in text: the read tools as a menu, the edit
    formats, and FINISH with its fields."""
    tools, finish = [], None
    for spec in specs:
        fn = spec["function"]
        if fn["name"] == "finish":
            finish = fn
        elif fn["name"] not in ("edit_agent_file", "rewrite_agent_file"):
            props = fn["parameters"]["properties"]
            args = ", ".join(f'"{k}": {_kind(v)}' for k, v in props.items())
            tools.append(f"- TOOL {fn['name']} {{{args}}} — {fn['description']}")
    assert finish is not None
    fields = ", ".join(f'"{k}": {_kind(v)}' for k, v in finish["parameters"]["properties"].items())
    rewrite = (
        "\nTo write a whole file instead, a line `FILE path` and then the whole file in a "
        "```python fence.\n"
        if allow_rewrite
        else ""
    )
    return (
        "## How to act (answer in plain text: there are no function calls)\n\n"
        "Read with one TOOL line per call, its arguments one JSON object on the same line "
        "(leave out optional ones); the results come back in the next message:\n"
        + "\n".join(tools)
        + "\n\nEdit with search/replace blocks: the file's name on its own line, then\n"
        "<<<<<<< SEARCH\n(lines copied exactly from the file)\n=======\n(their replacement)\n"
        ">>>>>>> REPLACE\n" + rewrite + "\nWhen the change is made, end with a line "
        f"`FINISH {{{fields}}}` (one JSON object). Send a few actions per reply, not more."
    )


def _kind(spec: dict[str, Any]) -> str:
    if "enum" in spec:
        return " | ".join(json.dumps(v) for v in spec["enum"])
    return {"integer": "int", "string": "str", "object": "{...}"}.get(spec.get("type", ""), "...")
