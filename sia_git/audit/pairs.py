"""Candidate (item id, value) pairs in a text, grouped by the slot they were read from.

A slot ("channel") is one structural place a value can sit beside an id: the token after an id
and a separator (`q17: ok`, `q17 -> pos`, `q17,pos`, `"q17": "pos"`, a file name `q17_pos.txt`),
the token before one, a column of delimited rows, a key of a JSON object beside an id value,
the values of a JSON object keyed by id, a position in short JSON lists. Leaks are judged per
channel (judge.py): a format the audit was never told about still puts its values in one slot.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Collection, Iterator
from typing import Any

Channels = dict[str, dict[str, str]]  # channel -> {item id: the first value seen there}

_TOKEN = r"[^\s\"',;:|=\[\]{}()<>]{1,60}"
_SEP = r"(->|=>|[-:=,;|\t_/ ])"
_NEXT = re.compile(r"[\"'\])]*[ \t]*" + _SEP + r"[ \t]*[\"'\[(]*(" + _TOKEN + ")")
_PREV = re.compile("(" + _TOKEN + r")[\"'\])]*[ \t]*" + _SEP + r"[ \t]*[\"'\[(]*$")
_EXT = re.compile(r"(?<=.)\.[A-Za-z0-9]{1,6}$")
DELIMITERS = ",\t;|"
MAX_JSON = 8 << 20


def id_pattern(ids: Collection[str]) -> re.Pattern[str] | None:
    """A sealed id as a whole token (not inside a longer word or number); purely numeric ids
    shorter than four digits are left out: on a line of text they would match any number."""
    textual = sorted((i for i in ids if len(i) >= 4 or not i.isdigit()), key=len, reverse=True)
    if not textual:
        return None
    return re.compile(
        r"(?<![A-Za-z0-9])(" + "|".join(map(re.escape, textual)) + r")(?![A-Za-z0-9])"
    )


def _add(out: Channels, channel: str, item: str, *, value: Any) -> None:
    if isinstance(value, bool):
        value = "true" if value else "false"
    if isinstance(value, str | int | float) and str(value).strip():
        out.setdefault(channel, {}).setdefault(item, str(value))


def text_pairs(
    text: str, id_re: re.Pattern[str], skip_lines: Collection[str], *, names: bool = False
) -> Channels:
    """The token after and before each sealed id on its line (`names`: the text is file
    names, one a line, and a token's file extension is dropped). Lines in `skip_lines` (public
    text) are passed over."""
    out: Channels = {}
    for m in id_re.finditer(text):
        start, end = m.span()
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end)
        line = text[line_start : len(text) if line_end < 0 else line_end]
        if line.strip() in skip_lines:
            continue
        after = _NEXT.match(line, end - line_start)
        if after:
            value = _EXT.sub("", after.group(2)) if names else after.group(2)
            _add(out, f"next{after.group(1)}", m.group(1), value=value)
        before = _PREV.search(line, 0, start - line_start)
        if before:
            value = _EXT.sub("", before.group(1)) if names else before.group(1)
            _add(out, f"prev{before.group(2)}", m.group(1), value=value)
    return out


def table_pairs(text: str, ids: Collection[str], skip_lines: Collection[str]) -> Channels:
    """Rows of delimited text with a sealed id as one whole field: each other field is a value
    of the channel (delimiter, row width, id column, value column)."""
    out: Channels = {}
    for delim in DELIMITERS:
        if delim not in text:
            continue
        try:
            for row in csv.reader(io.StringIO(text), delimiter=delim):
                _row_pairs(out, delim, [c.strip() for c in row], ids=ids, skip=skip_lines)
        except csv.Error:
            continue
    return out


def _row_pairs(
    out: Channels, delim: str, cells: list[str], *, ids: Collection[str], skip: Collection[str]
) -> None:
    if len(cells) < 2:
        return
    hits = [k for k, c in enumerate(cells) if c in ids]
    if len(hits) != 1 or delim.join(cells) in skip:
        return
    k = hits[0]
    for j, cell in enumerate(cells):
        if j != k:
            _add(out, f"table{delim}{len(cells)}:{k}:{j}", cells[k], value=cell)


def json_docs(text: str) -> Iterator[Any]:
    """The text as one JSON document, or its lines that are (JSON Lines)."""
    if len(text) > MAX_JSON:
        return
    stripped = text.strip()
    if stripped[:1] in ("[", "{"):
        try:
            yield json.loads(stripped)
            return
        except ValueError:
            pass
    for line in text.splitlines():
        line = line.strip()
        if line[:1] in ("[", "{"):
            try:
                yield json.loads(line)
            except ValueError:
                continue


def json_pairs(doc: Any, ids: Collection[str]) -> Channels:
    out: Channels = {}
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            _object_pairs(out, node, ids)
            stack += list(node.values())
        elif isinstance(node, list):
            _list_pairs(out, node, ids)
            stack += node
    return out


def _scalar(v: Any) -> bool:
    return isinstance(v, str | int | float | bool)


def _object_pairs(out: Channels, node: dict[str, Any], ids: Collection[str]) -> None:
    for key, value in node.items():
        if key in ids:  # a map keyed by id
            if _scalar(value):
                _add(out, "json{id:value}", key, value=value)
            elif isinstance(value, dict):
                for k, v in value.items():
                    _add(out, f"json{{id:{{{k}}}}}", key, value=v)
    keys = [k for k, v in node.items() if _scalar(v) and not isinstance(v, bool) and str(v) in ids]
    if len(keys) == 1:  # an object about one item: its other fields
        item = str(node[keys[0]])
        for k, v in node.items():
            if k != keys[0]:
                _add(out, f"json.{k}", item, value=v)


def _list_pairs(out: Channels, node: list[Any], ids: Collection[str]) -> None:
    if not 2 <= len(node) <= 4 or not all(_scalar(v) for v in node):
        return
    hits = [p for p, v in enumerate(node) if not isinstance(v, bool) and str(v) in ids]
    if len(hits) == 1:
        for q, v in enumerate(node):
            if q != hits[0]:
                _add(out, f"json[{hits[0]}:{q}]", str(node[hits[0]]), value=v)


def merge(*parts: Channels) -> Channels:
    out: Channels = {}
    for part in parts:
        for channel, pairs in part.items():
            mine = out.setdefault(channel, {})
            for item, value in pairs.items():
                mine.setdefault(item, value)
    return out


def describe(channel: str) -> str:
    """A channel in words, for a finding."""
    if channel.startswith(("next", "prev")):
        sep = {"\t": "<tab>", " ": "<space>"}.get(channel[4:], channel[4:])
        return f"as 'id{sep}value'" if channel[0] == "n" else f"as 'value{sep}id'"
    if channel.startswith("table"):
        width, k, j = channel[6:].split(":")
        delim = {"\t": "tab", ",": "comma"}.get(channel[5], f"'{channel[5]}'")
        return (
            f"in {delim}-separated rows of {width} fields (id in field {int(k) + 1}, "
            f"value in field {int(j) + 1})"
        )
    if channel.startswith("json{"):
        return "in a JSON object keyed by item id"
    if channel.startswith("json."):
        return f"in JSON objects with an id and '{channel[5:]}'"
    return "in JSON lists of [id, value]"
