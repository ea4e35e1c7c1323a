"""The Feedback-Agent's read-only view of a run: earlier generations, their diffs, traces,
gold-free evaluation summaries, gate reports of rejected candidates, and the task's public files.

Everything comes from git (the run's commits and attempt records) and the staged public inputs.
Nothing here can reach the private answers: they are never in git nor in the staged inputs, and
evaluation summaries carry each failed item's id and status only, for the selection split only
(the report split never feeds back into the search).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sia_git.gitrepo.reader import RepoReader
from sia_git.store import history as H
from sia_git.store import refs
from sia_git.store import trailers as T
from sia_git.store.records import AttemptRecord, CandidateRecord, read_attempt
from sia_git.store.runs import CODE_DIR, read_notes

MAX_TOOL_CHARS = 20_000
MAX_FAILED_ITEMS = 200


class ToolError(Exception):
    """A tool call the model got wrong; the message goes back to the model."""


def cap(text: str, limit: int = MAX_TOOL_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {len(text) - limit} more characters not shown]"


@dataclass
class RunView:
    repo: RepoReader
    run_id: str
    hist: H.RunHistory
    dataset: Path  # the staged public inputs, exactly what the agent sees
    select: str
    _records: dict[int, AttemptRecord] = field(default_factory=dict)

    # -- generations -------------------------------------------------------------------------

    def list_generations(self) -> str:
        rows = ["gen  cand  status    lever    score    commit      subject"]
        entries = [e for e in self.hist.branch if e.kind == "generation"] + self.hist.rejected
        for e in sorted(entries, key=lambda e: (e.gen or 0, e.status != "accepted")):
            cand = (e.trailers.get(T.CANDIDATE) or "0").split("/")[0]
            score = "-" if e.score is None else f"{e.score:.4f}"
            reason = e.trailers.get(T.REJECTED)
            rows.append(
                f"{e.gen or 0:>3}  c{cand:<3} {e.status:9} {e.trailers.get(T.LEVER, '-'):8}"
                f" {score:>7}  {e.sha[:10]}  {e.subject}"
                + (f"\n{'':>15}why rejected: {reason}" if reason else "")
            )
        for e in self.hist.branch:
            if e.kind == "revert":
                rows.append(
                    f"  -  -     revert    -              -  {e.sha[:10]}  {e.subject}: "
                    f"{e.trailers.get(T.REASON, '')}"
                )
        return cap("\n".join(rows))

    def _entry(self, generation: int, candidate: int | None) -> H.Entry:
        if candidate is None:
            found = self.hist.generation(generation)
            if found:
                return found
        for e in self.hist.rejected:
            cand = (e.trailers.get(T.CANDIDATE) or "").split("/")[0]
            if e.gen == generation and (candidate is None or cand == str(candidate)):
                return e
        if candidate is not None:
            found = self.hist.generation(generation)
            if found and (found.trailers.get(T.CANDIDATE) or "0/").split("/")[0] in (
                str(candidate),
                "0",
            ):
                return found
        raise ToolError(
            f"no generation {generation}"
            + (f" candidate {candidate}" if candidate is not None else "")
            + "; see list_generations"
        )

    def show_generation(self, generation: int, candidate: int | None = None) -> str:
        e = self._entry(generation, candidate)
        parent = self.repo.rev_parse(f"{e.sha}^")
        # The sealed splits' aggregate scores (Sia-Score-Test) are for people, not for the
        # model that proposes: choosing changes by them would be selecting on the test set.
        message = "".join(
            line
            for line in self.repo.message(e.sha).splitlines(keepends=True)
            if not line.startswith("Sia-Score-")
        )
        improvement = read_notes(self.repo, [e]).get(e.sha, "")
        diff = self.repo.diff(parent, e.sha, [CODE_DIR]) if parent else "(first generation)"
        return cap(
            f"commit {e.sha} [{e.status}]\n{message}\n--- improvement note ---\n"
            f"{improvement}\n--- diff of the agent against its parent ---\n"
            f"{diff or '(no change to the code)'}"
        )

    def diff(self, from_generation: int, to_generation: int) -> str:
        a = self._entry(from_generation, None)
        b = self._entry(to_generation, None)
        return cap(self.repo.diff(a.sha, b.sha, [CODE_DIR]) or "(no difference)")

    # -- attempt records ---------------------------------------------------------------------

    def _record(self, generation: int) -> AttemptRecord:
        if generation not in self._records:
            found = read_attempt(self.repo, self.run_id, generation)
            if found is None:
                raise ToolError(f"generation {generation} has no attempt record")
            self._records[generation] = found
        return self._records[generation]

    def _candidate(self, generation: int, candidate: int | None) -> CandidateRecord:
        record = self._record(generation)
        cands = record.candidates
        if candidate is None:
            candidate = (
                record.accepted
                if record.accepted is not None
                else (cands[0].candidate if cands else 0)
            )
        found = record.candidate(candidate)
        if found is not None:
            return found
        shown = ", ".join(str(c.candidate) for c in cands)
        raise ToolError(f"generation {generation} has no candidate {candidate} (it has {shown})")

    def eval_summary(self, generation: int, candidate: int | None = None) -> str:
        c = self._candidate(generation, candidate)
        items = c.items.get(self.select, [])
        failed = [i for i in items if i.get("status") != "correct"]
        counts: dict[str, int] = {}
        for i in items:
            counts[i.get("status", "?")] = counts.get(i.get("status", "?"), 0) + 1
        lines = [
            f"generation {generation} candidate {c.candidate}: {c.status}"
            + (f" ({c.reason})" if c.reason else ""),
            f"{self.select} score: {c.scores.get(self.select)}",
            f"{self.select} metrics: {json.dumps(c.metrics.get(self.select, {}))}",
            f"item statuses: {json.dumps(counts, sort_keys=True)}",
            f"failed items (id: status), {min(len(failed), MAX_FAILED_ITEMS)} of "
            f"{len(failed)} shown:",
        ]
        lines += [f"  {i.get('id')}: {i.get('status')}" for i in failed[:MAX_FAILED_ITEMS]]
        return cap("\n".join(lines))

    def gate_report(self, generation: int, candidate: int | None = None) -> str:
        c = self._candidate(generation, candidate)
        lines = [
            f"status: {c.status}" + (f" ({c.reason})" if c.reason else ""),
            f"verdict: {c.verdict or '-'}",
        ]
        for name, g in c.gates.items():
            lines.append(
                f"gate {name}: {'pass' if g.passed else 'FAIL'}"
                + (f"\n{g.report}" if g.report else "")
            )
        if c.run:
            lines.append(f"sandbox run: {json.dumps(c.run)}")
        return cap("\n".join(lines))

    def read_trace(
        self, generation: int, candidate: int | None = None, name: str | None = None
    ) -> str:
        c = self._candidate(generation, candidate)
        ref = refs.attempts(self.run_id, generation)
        prefix = f"c{c.candidate}/"
        # The evaluator's own output (kept for people) may print a dev item's expected answer;
        # the model learns from eval_summary's gold-free statuses instead.
        names = [
            p.removeprefix(prefix)
            for p in self.repo.list_files(ref, prefix)
            if not p.startswith(f"{prefix}evaluator/")
        ]
        if not name:
            return "traces: " + (", ".join(names) if names else "(none)")
        if name not in names:
            raise ToolError(f"no trace '{name}' (there are: {', '.join(names) or 'none'})")
        return cap(self.repo.read_file(ref, prefix + name) or "")

    # -- the task's public files -------------------------------------------------------------

    def list_task_files(self) -> str:
        files = sorted(p for p in self.dataset.rglob("*") if p.is_file())
        return (
            "\n".join(f"{p.relative_to(self.dataset)} ({p.stat().st_size} bytes)" for p in files)
            or "(no files)"
        )

    def read_task_file(self, path: str, offset: int = 0) -> str:
        target = (self.dataset / path).resolve()
        if not target.is_relative_to(self.dataset.resolve()) or not target.is_file():
            raise ToolError(f"no public task file '{path}'; see list_task_files")
        text = target.read_text(encoding="utf-8", errors="replace")
        offset = max(0, int(offset))
        chunk = text[offset : offset + MAX_TOOL_CHARS]
        more = len(text) - offset - len(chunk)
        return chunk + (
            f"\n[... {more} more characters; read on with offset={offset + len(chunk)}]"
            if more > 0
            else ""
        )
