"""The ruff gate: code that cannot run (undefined names, syntax errors), by the rules in
hooks/ruff.toml."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from sia_git.core.resources import bundled
from sia_git.gates.runners import Findings, Options, _digest, _Names, _run, _version


class Ruff:
    def key(self, opts: Options) -> str:
        config = (bundled("hooks") / "ruff.toml").read_bytes()
        return f"ruff-{_version('ruff')}-{_digest(config)}"

    def scan(self, paths: Sequence[Path], opts: Options) -> Findings:
        config = bundled("hooks") / "ruff.toml"
        out = _run(
            [
                sys.executable,
                "-m",
                "ruff",
                "check",
                "--no-cache",
                "--config",
                str(config),
                "--output-format",
                "json",
                *map(str, paths),
            ],
            (0, 1),
            "ruff",
        )
        names = _Names(paths)
        for f in json.loads(out or "[]"):
            names.add(
                f["filename"],
                {
                    "line": f["location"]["row"],
                    "rule": f["code"] or "syntax",
                    "message": f["message"],
                },
            )
        return names.found
