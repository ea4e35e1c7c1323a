"""The `none` backend: no sandbox, only when asked, with a warning. Limits, fresh copies of the
inputs and a clean environment still apply."""

from __future__ import annotations

from sia_git.sandbox.backends.unshare import Unshare


class Unsandboxed(Unshare):
    name = "none"

    @classmethod
    def prefix(cls) -> list[str]:
        return []

    @classmethod
    def probe(cls) -> str | None:
        return None

    @classmethod
    def warning(cls) -> str | None:
        return "sandbox disabled (--sandbox none): the agent runs with your file access"
