"""Read a task's private answer files by item id, and write copies narrowed to some ids.

sia-git splits a task that has one answer set into dev and test. When the task's metric is not a
mean over items, each split is scored by running the evaluator on a copy of the answer files that
holds only that split's items. The files it can narrow: CSV (an id column), JSON Lines (an id
key), a JSON list of objects (an id key) and a JSON object keyed by item id.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

KINDS = (".csv", ".json", ".jsonl")


class NotNarrowable(Exception):
    """An answer file sia-git cannot read by item id; the message says which and why."""


def answer_files(private: Path) -> list[Path]:
    return sorted(p for p in private.rglob("*") if p.is_file() and not p.name.startswith("."))


def guess_field(names: list[str]) -> str | None:
    """`id` (any case), else the one name ending in `id` (SIA's PassengerId)."""
    exact = [n for n in names if n.lower() == "id"]
    if len(exact) == 1:
        return exact[0]
    ending = [n for n in names if n.lower().endswith("id")]
    return ending[0] if len(ending) == 1 else None


def id_field(private: Path, declared: str | None) -> str:
    """The id column/key every answer file is read by; raise NotNarrowable when one cannot be."""
    files = answer_files(private)
    if not files:
        raise NotNarrowable(f"{private} holds no answer files")
    found: dict[str, str] = {}
    for path in files:
        names = _field_names(path)
        if names is None:
            continue  # a JSON object keyed by item id needs no field
        field = declared if declared in names else None if declared else guess_field(names)
        if field is None:
            what = (
                f"no column or key '{declared}'"
                if declared
                else (f"no id column or key among {names[:8]}")
            )
            raise NotNarrowable(f"{path.name} has {what}")
        found[path.name] = field
    fields = set(found.values())
    if len(fields) > 1:
        raise NotNarrowable(f"the answer files name their ids differently ({sorted(fields)})")
    return fields.pop() if fields else (declared or "id")


def ids(private: Path, field: str) -> list[str]:
    """Every item id in the answer files, in file order."""
    out: list[str] = []
    for path in answer_files(private):
        out += [i for i, _ in _records(path, field)]
    return out


def file_ids(path: Path, declared: str | None = None) -> list[str]:
    """The item ids of one answer file, by `declared` or the guessed id column/key."""
    return [i for i, _ in file_records(path, declared)]


def file_records(path: Path, declared: str | None = None) -> list[tuple[str, Any]]:
    """(item id, record) of one answer file, by `declared` or the guessed id column/key: a
    record is a row (a dict) or, in a JSON object keyed by item id, that id's value."""
    names = _field_names(path)
    field = "id" if names is None else declared if declared in (names or []) else guess_field(names)
    if field is None:
        raise NotNarrowable(f"{path.name} has no id column or key among {names[:8]}")
    return list(_records(path, field))


def digest(private: Path) -> str:
    """`sha256:<hex>` of a task's answer files: each file's path relative to `private` (sorted,
    `/`-separated) and its content, length-prefixed. Two task folders with the same digest hold
    the same answers; run.toml records it as `answers_digest`."""
    h = hashlib.sha256()
    files = {p.relative_to(private).as_posix(): p for p in answer_files(private)}
    for name in sorted(files):
        rel, data = name.encode(), files[name].read_bytes()
        h.update(b"%d:%s%d:" % (len(rel), rel, len(data)))
        h.update(data)
    return f"sha256:{h.hexdigest()}"


def narrow(private: Path, dest: Path, field: str, *, keep: Callable[[str], bool]) -> int:
    """Write each answer file to `dest` holding only the items `keep` accepts; return how many
    items were kept."""
    kept = 0
    for path in answer_files(private):
        target = dest / path.relative_to(private)
        target.parent.mkdir(parents=True, exist_ok=True)
        suffix = path.suffix.lower()
        if suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as src:
                reader = csv.reader(src)
                header = next(reader, [])
                col = header.index(field)
                rows = [r for r in reader if len(r) > col and keep(r[col].strip())]
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows([header, *rows])
            target.write_text(out.getvalue(), encoding="utf-8")
            kept += len(rows)
        elif suffix == ".jsonl":
            lines = [
                line
                for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip() and keep(_id(json.loads(line), field, path))
            ]
            target.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            kept += len(lines)
        else:
            data = _json(path)
            if isinstance(data, dict):
                data = {k: v for k, v in data.items() if keep(str(k))}
            else:
                data = [r for r in data if keep(_id(r, field, path))]
            target.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
            kept += len(data)
    return kept


def _field_names(path: Path) -> list[str] | None:
    suffix = path.suffix.lower()
    if suffix not in KINDS:
        raise NotNarrowable(f"{path.name} is not CSV, JSON or JSON Lines")
    if suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            return [h.strip() for h in next(csv.reader(f), [])]
    if suffix == ".jsonl":
        first = next(
            (line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()), "{}"
        )
        row = _loads(first, path)
        return list(row) if isinstance(row, dict) else []
    data = _json(path)
    if isinstance(data, dict):
        return None
    return list(data[0]) if data and isinstance(data[0], dict) else []


def _records(path: Path, field: str) -> Iterator[tuple[str, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                yield str(row.get(field, "")).strip(), row
    elif suffix == ".jsonl":
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = _loads(line, path)
                yield _id(row, field, path), row
    else:
        data = _json(path)
        if isinstance(data, dict):
            yield from ((str(k), v) for k, v in data.items())
        else:
            yield from ((_id(r, field, path), r) for r in data)


def _json(path: Path) -> dict[str, Any] | list[Any]:
    data = _loads(path.read_text(encoding="utf-8"), path)
    if not isinstance(data, dict | list):
        raise NotNarrowable(f"{path.name} is neither a JSON list nor a JSON object")
    return data


def _loads(text: str, path: Path) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotNarrowable(f"{path.name} is not valid JSON: {exc}") from None


def _id(row: Any, field: str, path: Path) -> str:
    if not isinstance(row, dict) or field not in row:
        raise NotNarrowable(f"{path.name} has a record without '{field}'")
    return str(row[field]).strip()
