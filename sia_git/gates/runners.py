"""The four gates: ruff (code that cannot run), bandit (insecure calls), semgrep (the offline
rules in hooks/semgrep/: what an agent must never do) and a secret scan (detect-secrets, plus
the values of secret-looking environment variables). Each scans a list of files in one tool
run and returns findings per file; the caller caches them by blob SHA."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sia_git import childenv, tmpfiles
from sia_git.resources import bundled

TOOL_TIMEOUT_S = 180
Findings = dict[str, list[dict[str, Any]]]  # path -> [{"line", "rule", "message"}]


class GateToolError(Exception):
    """The gate's tool could not run (missing, crashed): the gate fails with this reason."""


@dataclass(frozen=True)
class Options:
    forbid_packages: tuple[str, ...] = ()  # the task's data source: importing it is flagged
    allow_rules: tuple[str, ...] = ()  # the task's gate policy: these findings do not fail
    secret_values: tuple[str, ...] = field(default=(), repr=False)


class Runner(Protocol):
    name: str

    def key(self, opts: Options) -> str: ...

    def scan(self, paths: Sequence[Path], opts: Options) -> Findings: ...


@functools.cache
def _version(module: str) -> str:
    """A stand-in for the tool's version that is cheap to get on every `check` (the warm path
    must stay fast): where its module lives and when it was installed."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        return "missing"
    st = os.stat(spec.origin)
    return _digest(spec.origin, str(st.st_mtime_ns), str(st.st_size))


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def _run(
    argv: list[str], ok_codes: tuple[int, ...], what: str, env: dict[str, str] | None = None
) -> str:
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT_S,
            env=childenv.scrubbed(**(env or {})),
        )
    except FileNotFoundError:
        raise GateToolError(f"{what} is not installed (pip install sia-git again)") from None
    except subprocess.TimeoutExpired:
        raise GateToolError(f"{what} timed out after {TOOL_TIMEOUT_S}s") from None
    if done.returncode not in ok_codes:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or [""]
        raise GateToolError(f"{what} could not run (exit {done.returncode}): {last[0][:300]}")
    return done.stdout


class _Names:
    """Tool output names files its own way (`./a.py`, absolute); map each back to the caller's
    spelling, and collect findings under it."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.found: Findings = {str(p): [] for p in paths}
        self._map = {os.path.normpath(s): str(p) for p in paths for s in (str(p), str(p.resolve()))}

    def add(self, reported: str, finding: dict[str, Any]) -> None:
        name = self._map.get(os.path.normpath(reported), reported)
        self.found.setdefault(name, []).append(finding)


class Ruff:
    name = "ruff"

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


class Bandit:
    """Medium severity and confidence and up: low findings (assert, random) are noise here."""

    name = "bandit"

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


class Semgrep:
    name = "semgrep"

    def _rules(self) -> list[Path]:
        return sorted((bundled("hooks") / "semgrep").glob("*.yml"))

    def key(self, opts: Options) -> str:
        rules = [p.read_bytes() for p in self._rules()]
        template = (bundled("hooks") / "semgrep" / "data_source.yml.tmpl").read_bytes()
        return (
            f"semgrep-{_version('semgrep')}-"
            f"{_digest(*rules, template, ','.join(opts.forbid_packages))}"
        )

    def scan(self, paths: Sequence[Path], opts: Options) -> Findings:
        exe_s = semgrep_executable() or "semgrep"
        import tempfile

        with tempfile.TemporaryDirectory(prefix=tmpfiles.prefix("semgrep")) as tmp:
            configs = [a for p in self._rules() for a in ("--config", str(p))]
            if opts.forbid_packages:
                extra = Path(tmp) / "data_source.yml"
                extra.write_text(_data_source_rule(opts.forbid_packages), encoding="utf-8")
                configs += ["--config", str(extra)]
            # Offline: no version check (it stalls ~97 s), no metrics, local rules only.
            argv = [
                exe_s,
                "scan",
                *configs,
                "--disable-version-check",
                "--metrics=off",
                "--json",
                "--quiet",
                "--no-git-ignore",
                *map(str, paths),
            ]
            env = {"SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}
            try:
                # osemgrep (the native CLI) finds the same results ~10x faster than the Python
                # wrapper (0.3 s against 3 s for a 200-line file here).
                out = _run([*argv[:2], "--experimental", *argv[2:]], (0, 1), "semgrep", env)
            except GateToolError:
                out = _run(argv, (0, 1), "semgrep", env)
        data = json.loads(out or "{}")
        # Warnings (a file that only partly parses) are not failures to run: ruff reports the
        # syntax error itself.
        errors = [e for e in data.get("errors", []) if e.get("level") == "error"]
        if errors:
            raise GateToolError(f"semgrep: {errors[0].get('message', '')[:300]}")
        names = _Names(paths)
        for r in data.get("results", []):
            names.add(
                r["path"],
                {
                    "line": r["start"]["line"],
                    "rule": r["check_id"].rsplit(".", 1)[-1],
                    "message": " ".join(r["extra"]["message"].split()),
                },
            )
        return names.found


def semgrep_executable() -> str | None:
    """semgrep beside this interpreter (a venv that is not activated), else on PATH."""
    exe = Path(sys.executable).parent / "semgrep"
    return str(exe) if exe.exists() else shutil.which("semgrep")


def _data_source_rule(packages: Sequence[str]) -> str:
    template = (bundled("hooks") / "semgrep" / "data_source.yml.tmpl").read_text()
    modules = sorted({m for p in packages for m in _modules(p)})
    return template.replace("{{names}}", ", ".join(packages)).replace(
        "{{regex}}", "|".join(re.escape(m) for m in modules)
    )


def _modules(dist: str) -> set[str]:
    """Import names of a distribution: its top-level packages when installed, else its name."""
    names = {dist.replace("-", "_"), dist.replace("-", "_").lower()}
    if any(importlib.util.find_spec(n) for n in names):
        return names  # importable under its own name: no need to read the metadata
    from importlib import metadata

    try:
        top = metadata.distribution(dist).read_text("top_level.txt") or ""
        names |= {line.strip() for line in top.splitlines() if line.strip()}
    except metadata.PackageNotFoundError:
        pass
    return names


class Secrets:
    """detect-secrets' detectors, plus exact values of secret-looking environment variables (a
    key the proposer saw must not end up in an agent's code)."""

    name = "secrets"

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


RUNNERS: list[Runner] = [Ruff(), Bandit(), Semgrep(), Secrets()]
