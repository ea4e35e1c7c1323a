"""The leak audit: does anything a clone of a run would get tie a sealed test item to its result?

It reads every commit and blob reachable from the run's branch, its refs under `refs/sia/<run>/`
and the `refs/notes/sia*` notes (the user's own history before the run is left out), and reports

- a sealed test item's id next to a status, a score or a gold value: in a JSON object (an id key
  beside a key such as `status`, `score`, `expected`), as a JSON object keyed by item id with
  status values, or on one line with a status word (`q17: wrong`);
- a private answer file's content, whole, or one of its rows that has three or more fields.

Item ids are read from the task's answer files, so the audit needs the task (the path the run
recorded, or --task-dir). Purely numeric ids shorter than four digits are checked in JSON
structures only: on a line of text they would match any number.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sia_git import answers, refs
from sia_git.errors import SiaError
from sia_git.gitrepo import Repo
from sia_git.task import Task

LINK_KEYS = frozenset(
    {
        "status",
        "score",
        "correct",
        "is_correct",
        "passed",
        "result",
        "reward",
        "gold",
        "expected",
        "answer_key",
        "truth",
        "ground_truth",
        "correct_answer",
        "gold_label",
        "target",
    }
)
ID_KEYS = frozenset({"id", "item", "item_id", "itemid", "qid", "question_id"})
STATUS_WORDS = re.compile(
    r"\b(correct|incorrect|wrong|missing|invalid|passed|failed|solved|"
    r"unsolved)\b",
    re.IGNORECASE,
)
MAX_PER_OBJECT = 5


@dataclass(frozen=True)
class Finding:
    obj: str
    where: str
    what: str

    def line(self) -> str:
        return f"{self.obj[:10]} {self.where or '(commit message)'}: {self.what}"


@dataclass
class AuditResult:
    run_id: str
    objects: int
    sealed_items: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings


def sealed_ids(task: Task) -> set[str] | None:
    """The ids of the items whose results must never leave the evaluator; None for "every
    item" when a plan seals them all and the answer files cannot be read by id."""
    plan = task.plan
    try:
        files = answers.answer_files(task.private_dir)
        if plan.mode == "declared":  # the report splits' own answer files (test.csv, ...)
            files = [p for p in files if p.stem in plan.report]
        ids = {i for path in files for i in answers.file_ids(path, plan.id_field)}
    except answers.NotNarrowable as exc:
        if plan.selects_on_test:
            return None
        raise SiaError(
            f"audit: cannot list task {task.name}'s items from its answer files "
            f"({exc}); the audit needs them to know which ids are sealed"
        ) from None
    return {i for i in ids if plan.side(i) == "test"} if plan.mode == "hashed" else ids


def audit(repo: Repo, run_id: str, task: Task) -> AuditResult:
    ids = sealed_ids(task)
    base = refs.base(run_id)
    # The run branch, its review branches (sia/<run>-gN), its refs, the reviews and the notes.
    names = [
        r.strip()
        for r in repo.for_each_ref(
            [
                refs.branch_ref(run_id),
                f"{refs.branch_ref(run_id)}-g*",
                refs.run_ref(run_id, ""),
                refs.REVIEWS,
                "refs/notes/",
            ],
            "%(refname)",
        )
    ]
    tips = [
        r
        for r in names
        if r != base and not (r.startswith("refs/notes/") and not r.startswith(refs.NOTES))
    ]
    objects = repo.reachable_objects(tips, [base] if repo.rev_parse(base) else [])
    where = dict(objects)
    result = AuditResult(run_id, len(objects), -1 if ids is None else len(ids))
    scanner = _Scanner(ids, _private_texts(task))
    for sha, kind, data in repo.iter_objects([sha for sha, _ in objects]):
        if kind not in ("blob", "commit"):
            continue
        text = data.decode("utf-8", errors="replace")
        found = scanner.scan(text)
        result.findings += [Finding(sha, where.get(sha, ""), w) for w in found[:MAX_PER_OBJECT]]
    return result


def _private_texts(task: Task) -> list[tuple[str, str]]:
    out = []
    for path in sorted(p for p in task.private_dir.rglob("*") if p.is_file()):
        try:
            out.append((path.name, path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError):
            continue
    return out


class _Scanner:
    def __init__(self, ids: set[str] | None, private: list[tuple[str, str]]) -> None:
        self.ids = ids  # None: every id is sealed (then only JSON structures are checked)
        textual = sorted(
            (i for i in ids or () if len(i) >= 4 or not i.isdigit()), key=len, reverse=True
        )
        self.id_re = (
            re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, textual)) + r")(?![\w-])")
            if textual
            else None
        )
        self.files = [(name, text.strip()) for name, text in private if len(text.strip()) >= 64]
        self.rows = {
            line.strip(): name
            for name, text in private
            for line in text.splitlines()[1:]
            if line.count(",") >= 2 and len(line.strip()) >= 12
        }

    def scan(self, text: str) -> list[str]:
        found = [
            f"holds the whole private answer file {name}"
            for name, content in self.files
            if content in text
        ]
        for line in text.splitlines():
            row = self.rows.get(line.strip())
            if row:
                found.append(f"holds a row of the private answer file {row}: {line[:60]}")
        found += self._json(text)
        if self.id_re is not None:
            for line in text.splitlines():
                m = self.id_re.search(line)
                s = STATUS_WORDS.search(line) if m else None
                if m and s:
                    found.append(
                        f"links sealed test item {m.group(1)} to status "
                        f"'{s.group(1)}': {line.strip()[:80]}"
                    )
        return list(dict.fromkeys(found))

    def _json(self, text: str) -> list[str]:
        docs = []
        for chunk in [text, *text.splitlines()] if "\n" in text else [text]:
            chunk = chunk.strip()
            if chunk[:1] in "[{":
                try:
                    docs.append(json.loads(chunk))
                except ValueError:
                    continue
        out: list[str] = []
        for doc in docs:
            self._walk(doc, out)
        return out

    def _walk(self, node: Any, out: list[str]) -> None:
        if isinstance(node, dict):
            ids = [
                str(v)
                for k, v in node.items()
                if isinstance(v, str | int) and (k.lower() in ID_KEYS or k.lower().endswith("id"))
            ]
            sealed = [i for i in ids if self.ids is None or i in self.ids]
            linked = sorted(k for k in node if k.lower() in LINK_KEYS)
            if sealed and linked:
                out.append(f"links sealed test item {sealed[0]} to '{linked[0]}'")
            keyed = [
                k
                for k, v in node.items()
                if (self.ids is None or k in self.ids)
                and isinstance(v, str)
                and STATUS_WORDS.fullmatch(v.strip())
            ]
            if keyed:
                out.append(f"maps sealed test item {keyed[0]} to status '{node[keyed[0]]}'")
            for v in node.values():
                self._walk(v, out)
        elif isinstance(node, list):
            for v in node:
                self._walk(v, out)
