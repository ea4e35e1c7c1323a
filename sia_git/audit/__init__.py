"""The leak audit: does anything a clone of a run would get tie a sealed test item to its result?

It reads every commit, tree and blob reachable from the run's branch, its refs under
`refs/sia/<run>/` and the `refs/notes/sia*` notes (the user's own history before the run is
left out), and reports

- what ties a sealed item to its gold value, its status or a code for it, in any format and in
  any text an object hides (scan.py: reversed, base64, hex, compressed; file names of trees);
- a private answer file's content, whole, or one of its rows that has three or more fields;
- a score oracle: more sealed scores stored than the release rule allows (oracle.py).

Item ids and gold values are read from the task's answer files, so the audit needs the task
(the path the run recorded, or --task-dir), and refuses one that is not the run's
(taskcheck.py). Text the task's public files hold is never a leak.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sia_git.audit import knowledge, oracle
from sia_git.audit.scan import Scanner
from sia_git.audit.taskcheck import check_task
from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo
from sia_git.store import refs
from sia_git.tasks import answers
from sia_git.tasks.task import Task

__all__ = ["AuditResult", "Finding", "audit", "check_task", "sealed_ids"]
MAX_PER_OBJECT = 5
SCANNED = ("blob", "commit", "tree")


@dataclass(frozen=True)
class Finding:
    obj: str  # the object's id; "" for a finding about the run as a whole
    where: str
    what: str

    def line(self) -> str:
        where = self.where or "(commit message)"
        return f"{self.obj[:10]} {where}: {self.what}" if self.obj else f"{where}: {self.what}"


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
    objects = _reachable(repo, run_id)
    where = dict(objects)
    result = AuditResult(run_id, len(objects), -1 if ids is None else len(ids))
    scanner = Scanner(knowledge.build(task, ids))
    for sha, kind, data in repo.iter_objects([sha for sha, _ in objects]):
        if kind in SCANNED:
            found = scanner.scan_object(kind, data)
            result.findings += [Finding(sha, where.get(sha, ""), w) for w in found[:MAX_PER_OBJECT]]
    plan = task.plan
    splits = plan.sealed if plan.mode in ("hashed", "declared") else frozenset()
    direction = task.manifest.metric.direction
    for what in oracle.check(
        repo, run_id, splits, n_items=len(ids) if ids else None, direction=direction
    ):
        result.findings.append(Finding("", refs.run_ref(run_id, "*"), what))
    return result


def _reachable(repo: Repo, run_id: str) -> list[tuple[str, str]]:
    """(object id, path) of what a clone of the run gets beyond the user's own history: the run
    branch, its review branches (sia/<run>-gN), its refs, the reviews and sia-git's notes."""
    base = refs.base(run_id)
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
    return repo.reachable_objects(tips, [base] if repo.rev_parse(base) else [])
