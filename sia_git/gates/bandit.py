"""The bandit gate: insecure calls (through bandit's Python API, bandit_api.py)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from sia_git.core.resources import bundled
from sia_git.gates.runners import Findings, GateToolError, Options, _digest, _Names, _version


class Bandit:
    """Medium severity and confidence and up: low findings (assert, random) are noise here."""

    def key(self, opts: Options) -> str:
        config = (bundled("hooks") / "bandit.yaml").read_bytes()
        return f"bandit-{_version('bandit')}-{_digest(config)}"

    def scan(self, paths: Sequence[Path], opts: Options) -> Findings:
        # In this process (bandit's own API, as its CLI drives it): a bandit process per scan
        # cost more than the scan itself. One scan at a time: its manager is not thread-safe.
        from sia_git.gates.bandit_api import scan_files

        config = bundled("hooks") / "bandit.yaml"
        with _BANDIT_LOCK:
            try:
                issues, skipped = scan_files(config, [str(p) for p in paths])
            except Exception as exc:  # the tool's own failure fails the gate, with its reason
                raise GateToolError(f"bandit could not run: {exc}") from None
        names = _Names(paths)
        for fname, line, rule, text, severity in issues:
            message = f"{text} ({severity} severity)"
            names.add(fname, {"line": line, "rule": rule, "message": message})
        for fname, reason in skipped:
            names.add(fname, {"line": 0, "rule": "error", "message": reason})
        return names.found


_BANDIT_LOCK = threading.Lock()
