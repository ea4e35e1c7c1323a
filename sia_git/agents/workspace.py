"""The agent files a Feedback-Agent edits: an in-memory copy of the incumbent's agent folder,
changed by exact search/replace patches (or a whole-file rewrite, when the run allows it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sia_git.agents.runview import ToolError, cap

MAX_FILE_CHARS = 500_000


@dataclass
class Workspace:
    files: dict[str, str]
    original: dict[str, str] = field(init=False)
    last_error: str | None = None

    def __post_init__(self) -> None:
        self.original = dict(self.files)

    @classmethod
    def from_bytes(cls, files: dict[str, bytes]) -> Workspace:
        return cls({k: v.decode("utf-8", errors="replace") for k, v in files.items()})

    @property
    def changed(self) -> bool:
        return self.files != self.original

    def as_bytes(self) -> dict[str, bytes]:
        return {k: v.encode("utf-8") for k, v in self.files.items()}

    def read(self, path: str) -> str:
        if path not in self.files:
            raise ToolError(f"no agent file '{path}' (there are: {', '.join(sorted(self.files))})")
        return cap(self.files[path], MAX_FILE_CHARS)

    def edit(self, path: str, search: str, replace: str) -> str:
        try:
            return self._edit(path, search, replace)
        except ToolError as exc:
            self.last_error = str(exc)
            raise

    def _edit(self, path: str, search: str, replace: str) -> str:
        text = self.files.get(path)
        if text is None:
            raise ToolError(f"no agent file '{path}' (there are: {', '.join(sorted(self.files))})")
        if not search:
            raise ToolError("`search` is empty; copy the exact text to replace from the file")
        count = text.count(search)
        if count == 0:
            hint = ""
            first = search.strip().splitlines()[0].strip() if search.strip() else ""
            if first and first in text:
                hint = " (its first line occurs: check indentation and the lines after it)"
            raise ToolError(
                f"`search` text not found in {path}{hint}; read the file and copy the text exactly"
            )
        if count > 1:
            raise ToolError(
                f"`search` text occurs {count} times in {path}; include more "
                "surrounding lines so it is unique"
            )
        new = text.replace(search, replace, 1)
        self._check_size(new)
        self.files[path] = new
        self.last_error = None
        return (
            f"edited {path}: replaced {len(search.splitlines())} line(s) with "
            f"{len(replace.splitlines())}"
        )

    def rewrite(self, path: str, content: str) -> str:
        if not path.strip() or path.startswith("/") or ".." in path.split("/"):
            raise ToolError(f"'{path}' must be a relative path inside the agent folder")
        self._check_size(content)
        self.files[path] = content
        return f"wrote {path} ({len(content.splitlines())} lines)"

    @staticmethod
    def _check_size(text: str) -> None:
        if len(text) > MAX_FILE_CHARS:
            raise ToolError(
                f"the file would be {len(text):,} characters; the limit is {MAX_FILE_CHARS:,}"
            )
