"""All git access: repository checks, worktrees, plumbing commits, atomic ref updates, notes.

Generation commits are built with plumbing (a temporary index, `commit-tree`) and published with
one `update-ref --stdin` transaction, so a kill at any moment leaves either the whole generation
recorded or none of it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sia_git.core import childenv
from sia_git.core.errors import SiaError
from sia_git.core.redact import Redactor
from sia_git.gitrepo import trees
from sia_git.gitrepo.commits import CommitSpec, make_commits
from sia_git.gitrepo.errors import GitError
from sia_git.gitrepo.notes import NOTES_REF as NOTES_REF
from sia_git.gitrepo.notes import STALE_LOCK_S as STALE_LOCK_S
from sia_git.gitrepo.notes import Notes
from sia_git.gitrepo.process import run_to_end
from sia_git.gitrepo.worktrees import Worktrees

_FALLBACK_IDENTITY = {
    "GIT_AUTHOR_NAME": "sia-git",
    "GIT_AUTHOR_EMAIL": "sia-git@localhost",
    "GIT_COMMITTER_NAME": "sia-git",
    "GIT_COMMITTER_EMAIL": "sia-git@localhost",
}


@dataclass(frozen=True)
class Repo(Worktrees, Notes):
    root: Path  # top of the user's working tree
    common_dir: Path  # the shared .git folder
    # Commit identity to add when the user has none configured (CI machines often have none).
    identity: tuple[tuple[str, str], ...] = ()
    # Every blob, commit message and note sia-git writes passes through it (see redact.py).
    redactor: Redactor = field(default_factory=Redactor.from_env, compare=False)

    @property
    def sia_dir(self) -> Path:
        """sia-git's private state inside .git: worktrees, scratch space, locks."""
        return self.common_dir / "sia"

    def git(
        self,
        *args: str,
        cwd: Path | None = None,
        input: str | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> str:
        # stderr goes to a file: with one pipe, a large output (a long run's log) is read in
        # one go instead of through a select loop.
        with tempfile.TemporaryFile() as err:
            done = run_to_end(
                ["git", *args],
                cwd=cwd or self.root,
                input=input,
                stderr=err,
                env=childenv.scrubbed(**self._identity(), **(env or {})),
            )
            err.seek(0)
            stderr = err.read().decode("utf-8", errors="replace")
        if check and done.returncode != 0:
            msg = (stderr.strip() or done.stdout.strip()).splitlines()
            raise GitError(f"git {args[0]} failed: {msg[-1] if msg else done.returncode}")
        return done.stdout

    def _identity(self) -> dict[str, str]:
        return dict(self.identity)

    # -- objects -------------------------------------------------------------------------------

    def head_branch(self) -> str | None:
        """The branch checked out in the repository's own working tree (None: detached)."""
        return self.git("symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip() or None

    def is_branch_name(self, name: str) -> bool:
        return self.git("check-ref-format", "--branch", name, check=False).strip() != ""

    def rev_parse(self, rev: str) -> str | None:
        out = self.git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        return out.strip() or None

    def read_file(self, rev: str, path: str) -> str | None:
        done = subprocess.run(
            ["git", "cat-file", "blob", f"{rev}:{path}"],
            cwd=self.root,
            capture_output=True,
            env=childenv.scrubbed(),
        )
        return done.stdout.decode("utf-8", errors="replace") if done.returncode == 0 else None

    def read_files(self, specs: list[str]) -> dict[str, str | None]:
        """Many `rev:path` blobs in one `git cat-file --batch` (None for a missing one)."""
        if not specs:
            return {}
        done = subprocess.run(
            ["git", "cat-file", "--batch"],
            cwd=self.root,
            check=True,
            input="".join(f"{spec}\n" for spec in specs).encode(),
            capture_output=True,
            env=childenv.scrubbed(),
        )
        out, pos = {}, 0
        data = done.stdout
        for spec in specs:
            end = data.index(b"\n", pos)
            header = data[pos:end].split()
            pos = end + 1
            if len(header) != 3 or header[1] != b"blob":
                out[spec] = None  # "<spec> missing", or not a blob
                continue
            size = int(header[2])
            out[spec] = data[pos : pos + size].decode("utf-8", errors="replace")
            pos += size + 1
        return out

    def reachable_objects(self, tips: list[str], exclude: list[str]) -> list[tuple[str, str]]:
        """(object id, path or "") of every object reachable from `tips` and not from
        `exclude`: what a clone fetching those refs gets beyond what it already had."""
        if not tips:
            return []
        out = self.git("rev-list", "--objects", *tips, "--not", *exclude, "--")
        return [(line[:40], line[41:]) for line in out.splitlines() if line]

    def iter_objects(self, shas: list[str]) -> Iterator[tuple[str, str, bytes]]:
        """(id, type, content) of many objects from one `git cat-file --batch`, streamed: a
        long run's objects never sit in memory together."""
        if not shas:
            return
        proc = subprocess.Popen(
            ["git", "cat-file", "--batch"],
            cwd=self.root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=childenv.scrubbed(),
        )
        assert proc.stdin is not None and proc.stdout is not None
        stdin, stdout = proc.stdin, proc.stdout

        def feed() -> None:  # a thread: git stops reading while its output is not drained
            with contextlib.suppress(BrokenPipeError):
                stdin.write("".join(f"{s}\n" for s in shas).encode())
            with contextlib.suppress(BrokenPipeError):
                stdin.close()

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        try:
            for sha in shas:
                header = stdout.readline().split()
                if len(header) != 3:
                    continue  # "<id> missing"
                data = stdout.read(int(header[2]))
                stdout.read(1)
                yield sha, header[1].decode(), data
        finally:
            stdout.close()
            proc.wait()
            writer.join()

    def list_files(self, rev: str, path: str) -> list[str]:
        out = self.git("ls-tree", "-r", "--name-only", rev, "--", path, check=False)
        return out.splitlines()

    def make_tree(self, base: str | None, files: dict[str, bytes | None]) -> str:
        """A tree: `base` (a commit or tree) with `files` written (None deletes a path)."""
        return self.make_trees(base, [files])[0]

    def make_trees(self, base: str | None, changes: list[dict[str, bytes | None]]) -> list[str]:
        """A tree per entry of `changes`, each `base` with those files written: three git
        processes in all, however many trees (trees.py). Every blob is redacted first."""
        clean = [
            {path: None if c is None else self.redactor.bytes(c) for path, c in files.items()}
            for files in changes
        ]
        try:
            return trees.make_trees(self.git, self._git_bytes, base=base, changes=clean)
        except trees.ObjectMismatch as exc:
            raise GitError(str(exc)) from None

    def _git_bytes(self, args: list[str], data: bytes) -> bytes:
        done = subprocess.run(
            ["git", *args], cwd=self.root, input=data, capture_output=True,
            env=childenv.scrubbed(**self._identity()),
        )  # fmt: skip
        if done.returncode != 0:
            msg = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
            raise GitError(f"git {args[0]} failed: {msg[-1] if msg else done.returncode}")
        return done.stdout

    def commit(self, tree: str, parents: list[str], message: str) -> str:
        args = ["commit-tree", tree]
        for p in parents:
            args += ["-p", p]
        return self.git(*args, input=self.redactor.text(message)).strip()

    def make_commits(self, specs: list[tuple[str, list[str], str]]) -> list[str]:
        """A commit per (tree, parents, message), as `commit` makes each: two git processes
        in all, however many (commits.py). Every message is redacted first."""
        clean = [CommitSpec(t, tuple(ps), self.redactor.text(m)) for t, ps, m in specs]
        try:
            return make_commits(
                self.git, clean, lambda s: self.commit(s.tree, list(s.parents), s.message)
            )
        except trees.ObjectMismatch as exc:
            raise GitError(str(exc)) from None

    def update_refs(self, updates: list[tuple[str, str, str | None]]) -> None:
        """Update refs all-or-nothing: (ref, new sha, expected old sha or None for 'create')."""
        lines = ["start"]
        for ref, new, old in updates:
            lines.append(f"update {ref} {new} {old or '0' * 40}")
        lines += ["prepare", "commit"]
        self.git("update-ref", "--stdin", input="\n".join(lines) + "\n")

    def for_each_ref(self, prefix: str | list[str], fmt: str) -> list[str]:
        patterns = [prefix] if isinstance(prefix, str) else prefix
        out = self.git("for-each-ref", f"--format={fmt}%1e", *patterns)
        return [line for line in out.split("\x1e") if line.strip()]

    def log(self, rev: str, fmt: str, first_parent: bool = True) -> list[str]:
        args = ["log", f"--format={fmt}%x1e"] + (["--first-parent"] if first_parent else [])
        return [c.strip("\n") for c in self.git(*args, rev).split("\x1e") if c.strip()]

    def diff(self, a: str, b: str, paths: list[str]) -> str:
        return self.git("diff", a, b, "--", *paths)

    def diffs_to_parent(self, shas: list[str], paths: list[str]) -> dict[str, str]:
        """Each commit's diff against its first parent, limited to `paths`, in one process."""
        if not shas:
            return {}
        out = self.git(
            "diff-tree",
            "--stdin",
            "--always",
            "--root",
            "-p",
            "-m",
            "--first-parent",
            "--no-color",
            "--",
            *paths,
            input="".join(f"{sha}\n" for sha in shas),
        )
        wanted, diffs, current = set(shas), {sha: "" for sha in shas}, None
        lines: list[str] = []
        for line in out.splitlines(keepends=True):
            # A commit's header is its bare id; every diff line starts with a marker instead.
            if line.rstrip("\n") in wanted:
                if current is not None:
                    diffs[current] = "".join(lines)
                current, lines = line.rstrip("\n"), []
            else:
                lines.append(line)
        if current is not None:
            diffs[current] = "".join(lines)
        return diffs

    def is_ancestor(self, a: str, b: str) -> bool:
        return (
            subprocess.run(
                ["git", "merge-base", "--is-ancestor", a, b],
                cwd=self.root,
                capture_output=True,
                env=childenv.scrubbed(),
            ).returncode
            == 0
        )

    def last_change(self, rev: str, path: str) -> str | None:
        """The newest commit reachable from `rev` (first parents) that changed `path`."""
        out = self.git("log", "-1", "--first-parent", "--format=%H", rev, "--", path, check=False)
        return out.strip() or None


def open_repo(path: Path, *, write: bool = True) -> Repo:
    """Find the repository holding `path` and check it can host a run: two git plumbing calls
    (GitPython's discovery cost ten times as much). `write=False`: a read-only .git will do."""
    if shutil.which("git") is None:
        raise SiaError("git is not installed or not on PATH")
    if not path.is_dir():
        raise SiaError(f"not a directory: {path}")
    try:
        str(path.resolve()).encode("utf-8")
    except UnicodeEncodeError:
        raise SiaError(
            "the repository's path is not valid UTF-8 (git and the gates cannot name its "
            "files); move or rename it"
        ) from None
    env = childenv.scrubbed()
    found = subprocess.run(
        [
            "git",
            "rev-parse",
            "--show-object-format",
            "--is-bare-repository",
            "--is-inside-work-tree",
            "--git-common-dir",
            "--show-toplevel",
            "--verify",
            "-q",
            "HEAD^{commit}",
        ],  # fmt: skip
        cwd=path,
        capture_output=True,
        text=True,
        env=env,
    )
    object_format, *lines = found.stdout.splitlines() or [""]
    if len(lines) < 3:
        raise SiaError(
            f"not a git repository: {path.resolve()} (run `git init` and make a first commit)"
        )
    if lines[0] == "true":
        raise SiaError(
            f"{path.resolve()} is a bare repository; run sia-git inside a clone with a checkout"
        )
    if lines[1] != "true" or len(lines) < 4:
        raise SiaError(
            f"{path.resolve()} is inside .git, not a working tree; run sia-git from the checkout"
        )
    top = Path(lines[3])
    if len(lines) < 5:
        raise SiaError(f"{top}: the repository has no commits yet; make a first commit")
    if object_format.startswith("sha") and object_format != "sha1":  # (old git: no such line)
        raise SiaError(
            f"{top}: a {object_format} repository; sia-git writes SHA-1 objects only (make "
            "the run's repository with a plain `git init`)"
        )
    common = (path / lines[2]).resolve()
    if write and not os.access(common, os.W_OK):
        raise SiaError(f"{common} is not writable; sia-git records runs inside the repository")
    configured = subprocess.run(
        ["git", "config", "--get-regexp", r"^user\.(name|email)$"],
        cwd=top,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    have = {line.split(" ", 1)[0] for line in configured.splitlines() if " " in line.strip()}
    identity = [
        (k, v)
        for k, v in _FALLBACK_IDENTITY.items()
        if f"user.{k.rsplit('_', 1)[1].lower()}" not in have and k not in os.environ
    ]
    return Repo(top, common, tuple(identity))
