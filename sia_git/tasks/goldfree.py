"""Keep the answers out of what an evaluator says about the selection split. Its result file,
stdout and stderr on dev are stored with the attempt for people and shown to the
Feedback-Agent (as traces); some evaluators write each item's expected answer beside its status
(SIA's gpqa writes `correct_answer`). Before anything of it is kept, every value an item's
private record holds (its answer, whatever the field is called) is removed from that item's
entries, and keys that name an answer are dropped wherever they are."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sia_git.tasks import answers

GOLD_KEYS = frozenset(
    {"correct_answer", "gold", "gold_label", "expected", "expected_answer", "answer_key",
     "ground_truth", "truth", "target", "reference_answer", "label_true"}
)  # fmt: skip
ID_KEYS = frozenset({"id", "item", "item_id", "itemid", "qid", "question_id", "idx"})
MASK = "[gold]"


def gold(private: Path, id_field: str | None = None) -> dict[str, set[str]]:
    """Each item's private values (every field but its id), as text."""
    out: dict[str, set[str]] = {}
    for path in answers.answer_files(private):
        try:
            records = answers.file_records(path, id_field)
        except (answers.NotNarrowable, OSError, ValueError):
            continue
        for item, rec in records:
            values = rec.values() if isinstance(rec, dict) else [rec]
            found = {str(v).strip() for v in values if str(v).strip() and str(v) != item}
            out.setdefault(str(item), set()).update(found)
    return out


def scrub_json(raw: bytes, golds: dict[str, set[str]]) -> bytes:
    """The result file without answers (unchanged when it is not JSON)."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return scrub_text(raw.decode("utf-8", errors="replace"), golds).encode()
    return json.dumps(_clean(data, golds, None), indent=1).encode()


def _clean(node: Any, golds: dict[str, set[str]], item: str | None) -> Any:
    if isinstance(node, dict):
        mine = next((str(v) for k, v in node.items() if str(k).lower() in ID_KEYS
                     and str(v) in golds), item)  # fmt: skip
        out = {}
        for k, v in node.items():
            if str(k).lower() in GOLD_KEYS:
                continue
            key_item = str(k) if str(k) in golds else mine
            answer = (
                not isinstance(v, dict | list)
                and key_item is not None
                and str(v).strip() in golds[key_item]
                and str(k).lower() not in ID_KEYS | {"status"}
            )
            if answer:
                continue
            out[k] = _clean(v, golds, key_item)
        return out
    if isinstance(node, list):
        return [_clean(v, golds, item) for v in node]
    return node


def scrub_text(text: str, golds: dict[str, set[str]]) -> str:
    """Lines that name an item: its private values masked on them."""
    if not golds:
        return text
    names = "|".join(map(re.escape, sorted(golds, key=len, reverse=True)))
    ids = re.compile(r"(?<![\w-])(" + names + r")(?![\w-])")
    out = []
    for line in text.splitlines(keepends=True):
        for item in {m.group(1) for m in ids.finditer(line)}:
            for value in sorted(golds[item], key=len, reverse=True):
                line = re.sub(r"(?<!\w)" + re.escape(value) + r"(?!\w)", MASK, line)
        out.append(line)
    return "".join(out)
