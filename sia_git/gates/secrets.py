"""The secrets gate: detect-secrets, and the values of the run's secret environment variables."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sia_git.gates.runners import Findings, GateToolError, Options, _digest, _Names, _version


class Secrets:
    """detect-secrets' detectors, plus exact values of secret-looking environment variables (a
    key the proposer saw must not end up in an agent's code)."""

    def key(self, opts: Options) -> str:
        return f"secrets-{_version('detect_secrets')}-{_digest(*sorted(opts.secret_values))}"

    def scan(self, paths: Sequence[Path], opts: Options) -> Findings:
        try:
            from detect_secrets import SecretsCollection
            from detect_secrets.settings import default_settings
        except ImportError:
            raise GateToolError(
                "detect-secrets is not installed (pip install sia-git again)"
            ) from None
        names = _Names(paths)
        with default_settings():
            collection = SecretsCollection()
            for p in paths:
                collection.scan_file(str(p))
        for filename, secret in collection:
            names.add(
                filename,
                {
                    "line": secret.line_number or 0,
                    "rule": "detect-secrets",
                    "message": f"{secret.type} (value not shown)",
                },
            )
        for p in paths:
            text = p.read_text(encoding="utf-8", errors="replace")
            for value in opts.secret_values:
                if value in text:
                    line = text[: text.index(value)].count("\n") + 1
                    names.add(
                        str(p),
                        {
                            "line": line,
                            "rule": "env-secret",
                            "message": "the value of a secret environment variable",
                        },
                    )
        return names.found
