"""What the audit knows from the task: each sealed item's secret values (the fields of its
private record that the public files do not already give away), how likely a guess is to hit
them, and the public text that is never a leak.

A private field counts as public for an item when some slot of the public files (pairs.py)
pairs that item with that field's value, and the slot agrees with the field for nearly all of
its items: the question text of a GPQA-style task is public (its questions file pairs every id
with it), its answer is not, though the answer is one of the public choices.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sia_git.audit import pairs as P
from sia_git.audit.stats import ALPHA, tail
from sia_git.tasks import answers
from sia_git.tasks.task import Task

PUBLIC_AGREEMENT = 0.9  # a public slot that agrees this well with a private field gives it away
MIN_CHANCE = 0.25  # a guess among public choices: four options
DISTINCT_LEN = 8  # a secret value this long, held by one item and no public line or field
MAX_PUBLIC_BYTES = 64 << 20
MIN_FILE = 64  # a private file shorter than this is not looked for whole


def norm(value: Any) -> str:
    return " ".join(str(value).split()).strip(" \"'.,;:").lower()


@dataclass
class Knowledge:
    ids: set[str] | None  # the sealed ids; None: every item, unknown ones
    id_re: re.Pattern[str] | None = None
    secret: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> field -> value
    chance: dict[str, float] = field(default_factory=dict)  # field -> a guess's hit rate
    distinct: set[tuple[str, str]] = field(default_factory=set)  # (id, value) one item holds
    vocab: set[str] = field(default_factory=set)  # every secret value (the labels)
    public_pairs: set[tuple[str, str]] = field(default_factory=set)
    public_lines: set[str] = field(default_factory=set)  # public lines that name a sealed id
    public_blobs: set[str] = field(default_factory=set)  # sha256 of each public file
    files: list[tuple[str, str]] = field(default_factory=list)  # (name, whole private text)
    rows: dict[str, str] = field(default_factory=dict)  # private row (3+ fields) -> file


def build(task: Task, ids: set[str] | None) -> Knowledge:
    know = Knowledge(ids, P.id_pattern(ids or ()))
    public = _public_texts(task)
    know.public_blobs = {hashlib.sha256(data).hexdigest() for data in public.values()}
    texts = [data.decode("utf-8", errors="replace") for data in public.values()]
    all_public_lines = {line.strip() for text in texts for line in text.splitlines()}
    _private_texts(task, know, all_public_lines)
    if not ids:
        return know
    if know.id_re is not None:
        know.public_lines = {ln for ln in all_public_lines if know.id_re.search(ln)}
    gold = _gold(task, ids)
    public_fields = _public_fields(know, texts, gold, chance=_chance(gold))
    know.secret = {
        i: {f: v for f, v in rec.items() if (i, f) not in public_fields} for i, rec in gold.items()
    }
    _chances(know, {norm(ln) for ln in all_public_lines} | {v for _, v in know.public_pairs})
    return know


def _public_texts(task: Task) -> dict[Path, bytes]:
    out: dict[Path, bytes] = {}
    total = 0
    for path in sorted(p for p in task.public_dir.rglob("*") if p.is_file()):
        total += path.stat().st_size
        if total > MAX_PUBLIC_BYTES:
            break
        out[path] = path.read_bytes()
    return out


def _private_texts(task: Task, know: Knowledge, public_lines: set[str]) -> None:
    for path in answers.answer_files(task.private_dir):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if len(text.strip()) >= MIN_FILE:
            know.files.append((path.name, text.strip()))
        for line in text.splitlines()[1:]:
            row = line.strip()
            if row.count(",") >= 2 and len(row) >= 12 and row not in public_lines:
                know.rows[row] = path.name


def _gold(task: Task, ids: set[str]) -> dict[str, dict[str, str]]:
    """Each sealed item's private record as field -> normalised value."""
    out: dict[str, dict[str, str]] = {}
    for path in answers.answer_files(task.private_dir):
        try:
            records = answers.file_records(path, task.plan.id_field)
        except answers.NotNarrowable:
            continue
        for item, record in records:
            if item in ids:
                fields = record if isinstance(record, dict) else {"value": record}
                out.setdefault(item, {}).update(
                    {str(k): norm(v) for k, v in fields.items() if norm(v) and norm(v) != item}
                )
    return out


def _chance(gold: dict[str, dict[str, str]]) -> dict[str, float]:
    """Per field: how often a guess hits (the commonest value's share, or one in four)."""
    by_field: dict[str, Counter[str]] = {}
    for rec in gold.values():
        for f, v in rec.items():
            by_field.setdefault(f, Counter())[v] += 1
    return {f: max(MIN_CHANCE, max(c.values()) / sum(c.values())) for f, c in by_field.items()}


def _public_fields(
    know: Knowledge,
    texts: list[str],
    gold: dict[str, dict[str, str]],
    *,
    chance: dict[str, float],
) -> set[tuple[str, str]]:
    """(id, field) pairs the public files already give (see the module's docstring): a slot
    agreeing with the field far beyond a guess (a sample submission of one class is not)."""
    assert know.ids is not None
    out: set[tuple[str, str]] = set()
    for text in texts:
        found = P.merge(
            *(P.json_pairs(doc, know.ids) for doc in P.json_docs(text)),
            P.table_pairs(text, know.ids, ()),
            P.text_pairs(text, know.id_re, ()) if know.id_re else {},
        )
        for pairs in found.values():
            got = {i: norm(v) for i, v in pairs.items() if i in gold}
            know.public_pairs |= set(got.items())
            for f in {f for i in got for f in gold[i]}:
                have = [i for i in got if f in gold[i]]
                agree = [i for i in have if gold[i][f] == got[i]]
                if (
                    have
                    and len(agree) >= PUBLIC_AGREEMENT * len(have)
                    and tail(len(agree), len(have), chance[f]) <= ALPHA
                ):
                    out |= {(i, f) for i in have}
    return out


def _chances(know: Knowledge, public_values: set[str]) -> None:
    know.chance = _chance(know.secret)
    by_field: dict[str, Counter[str]] = {}
    for rec in know.secret.values():
        for f, v in rec.items():
            by_field.setdefault(f, Counter())[v] += 1
            know.vocab.add(v)
    know.distinct = {
        (i, v)
        for i, rec in know.secret.items()
        for f, v in rec.items()
        if len(v) >= DISTINCT_LEN and by_field[f][v] == 1 and v not in public_values
    }
