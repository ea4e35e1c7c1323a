"""Scan one git object for what ties a sealed test item to its result.

Every text an object may hide (decode.py: itself, reversed, decoded) is checked for

- a private answer file, whole, or one of its rows of three or more fields;
- a sealed item's id on a line with a status word (`q17: wrong`), in a JSON object beside a
  status-like key (`{"id": "q17", "status": ...}`), or keyed to a status (`{"q17": "wrong"}`);
- slots that pair sealed ids with their gold values, status words or a code for the labels
  (pairs.py finds the slots, judge.py weighs them).

A tree object is read as its entries' names, one a line. A blob identical to a public file of
the task, and lines that a public file holds, are never findings.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sia_git.audit import decode, judge, pairs
from sia_git.audit.knowledge import Knowledge

ID_KEYS = frozenset({"id", "item", "item_id", "itemid", "qid", "question_id"})
STATUS_WORDS = re.compile(
    r"\b(correct|incorrect|wrong|missing|invalid|passed|failed|solved|unsolved)\b",
    re.IGNORECASE,
)


class Scanner:
    def __init__(self, know: Knowledge) -> None:
        self.know = know

    def scan_object(self, kind: str, data: bytes) -> list[str]:
        if kind == "tree":
            return self.scan(_tree_names(data), names=True)
        if kind == "blob" and hashlib.sha256(data).hexdigest() in self.know.public_blobs:
            return []
        found: list[str] = []
        for how, text in decode.texts(data):
            suffix = f" (in its {how} text)" if how else ""
            found += [f"{what}{suffix}" for what in self.scan(text)]
        return list(dict.fromkeys(found))

    def scan(self, text: str, names: bool = False) -> list[str]:
        know = self.know
        found = [
            f"holds the whole private answer file {name}"
            for name, content in know.files
            if content in text
        ]
        has_id = know.id_re is not None and know.id_re.search(text) is not None
        if not (has_id or know.rows or know.ids is None or text.lstrip()[:1] in "[{"):
            return found
        lines = [ln.strip() for ln in text.splitlines()]
        for line in lines:
            row = know.rows.get(line)
            if row:
                found.append(f"holds a row of the private answer file {row}: {line[:60]}")
        docs = list(pairs.json_docs(text)) if not names else []
        for doc in docs:
            self._walk(doc, found)
        if has_id:
            found += self._status_lines(lines)
        if know.secret:
            found += judge.judge(self._channels(text, docs, names), know)
        return list(dict.fromkeys(found))

    def _channels(self, text: str, docs: list[Any], names: bool) -> pairs.Channels:
        know = self.know
        assert know.ids is not None
        parts = [pairs.json_pairs(doc, know.ids) for doc in docs]
        if not names:
            parts.append(pairs.table_pairs(text, know.ids, know.public_lines))
        if know.id_re is not None:
            parts.append(pairs.text_pairs(text, know.id_re, know.public_lines, names=names))
        return pairs.merge(*parts)

    def _status_lines(self, lines: list[str]) -> list[str]:
        out = []
        assert self.know.id_re is not None
        for line in lines:
            m = self.know.id_re.search(line)
            s = STATUS_WORDS.search(line) if m else None
            if m and s and line not in self.know.public_lines:
                out.append(
                    f"links sealed test item {m.group(1)} to status '{s.group(1)}': {line[:80]}"
                )
        return out

    def _walk(self, node: Any, out: list[str]) -> None:
        stack = [node]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                out += self._object(node)
                stack += list(node.values())
            elif isinstance(node, list):
                stack += node

    def _object(self, node: dict[str, Any]) -> list[str]:
        ids = self.know.ids
        out = []
        named = [
            str(v)
            for k, v in node.items()
            if isinstance(v, str | int) and (k.lower() in ID_KEYS or k.lower().endswith("id"))
        ]
        sealed = [i for i in named if ids is None or i in ids]
        linked = sorted(k for k in node if k.lower() in judge.LINK_KEYS)
        if sealed and linked:
            out.append(f"links sealed test item {sealed[0]} to '{linked[0]}'")
        keyed = [
            k
            for k, v in node.items()
            if (ids is None or k in ids)
            and isinstance(v, str)
            and STATUS_WORDS.fullmatch(v.strip())
        ]
        if keyed:
            out.append(f"maps sealed test item {keyed[0]} to status '{node[keyed[0]]}'")
        return out


def _tree_names(data: bytes) -> str:
    """A tree object's entry names, one a line (entries: mode, space, name, NUL, 20-byte id)."""
    names, pos = [], 0
    while pos < len(data):
        nul = data.find(b"\0", pos)
        if nul < 0:
            break
        names.append(data[data.find(b" ", pos) + 1 : nul].decode("utf-8", errors="replace"))
        pos = nul + 21
    return "\n".join(names)
