"""Candidates pass the gates through the pre-commit framework, as a person's commit would: the
repository's own `.pre-commit-config.yaml` (from the run's base commit) plus sia-git's hook, run
with `pre-commit run --files` in a scratch repository holding the candidate. `sia-git hooks
install` puts the same hook into a repository's config for people's commits."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sia_git import childenv, faults
from sia_git.errors import SiaError
from sia_git.gates import GateResult

CONFIG = ".pre-commit-config.yaml"
HOOK_ID = "sia-git-gates"
HOOK_FILES = r"^sia-agent/agent/"
_STATUS = re.compile(
    r"^(?P<name>.+?)\.{3,}(?:\(no files to check\))?"
    r"(?P<status>Passed|Failed|Skipped)$"
)
TIMEOUT_S = 600


def hook(entry: str) -> dict[str, Any]:
    return {
        "id": HOOK_ID,
        "name": "sia-git gates (ruff, bandit, semgrep, secrets)",
        "entry": entry,
        "language": "system",
        "types": ["python"],
        "files": HOOK_FILES,
        "require_serial": True,
    }


def merged_config(user_config: str | None, entry: str) -> str:
    """The user's config with sia-git's hook added (replacing an older copy of it), edited in
    place: its comments, order and layout stay as they were."""
    import io

    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    rt = YAML()  # round-trip: comments and layout survive
    rt.preserve_quotes = True
    rt.indent(mapping=2, sequence=4, offset=2)  # pre-commit's own examples' layout
    rt.width = 10_000  # never fold a long line of the user's
    try:
        data = rt.load(user_config) if user_config else None
    except YAMLError as exc:
        raise SiaError(f"{CONFIG} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        data = rt.load("repos: []\n")
    if not isinstance(data, dict) or not isinstance(data.get("repos", []), list):
        raise SiaError(f"{CONFIG} must be a mapping with a `repos` list")
    repos = data.setdefault("repos", [])
    for r in list(repos):
        if isinstance(r, dict) and r.get("repo") == "local":
            r["hooks"] = [h for h in r.get("hooks", []) if h.get("id") != HOOK_ID]
            if not r["hooks"]:
                repos.remove(r)
    repos.append({"repo": "local", "hooks": [hook(entry)]})
    out = io.StringIO()
    rt.dump(data, out)
    return out.getvalue()


def _pre_commit(
    args: list[str], cwd: Path, env: dict[str, str], hooks_off: bool = True
) -> subprocess.CompletedProcess:
    # sia-git's own interpreter first on PATH, so `language: system` hooks find its tools.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args, "--color", "never"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=childenv.scrubbed(hooks_off=hooks_off, PATH=path, **env),
    )


def _scratch_repo(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "init", "-q", str(folder)], check=True, capture_output=True, env=childenv.scrubbed()
    )


@dataclass(frozen=True)
class CandidateGates:
    """The gates every candidate of a run passes."""

    config: str  # the merged pre-commit config (the user's hooks and sia-git's)
    cache_dir: Path
    forbid: tuple[str, ...]
    allow: tuple[str, ...] = ()  # the task's gate policy (rule ids)

    @classmethod
    def for_run(
        cls,
        user_config: str | None,
        cache_dir: Path,
        forbid: list[str],
        scratch: Path,
        allow: list[str] | None = None,
    ) -> CandidateGates:
        """Build and check the config once, before any candidate: a user hook pre-commit
        cannot install (a remote repo, offline) is a setup error, not a failed candidate."""
        _preflight()
        entry = f"{sys.executable} -m sia_git check"
        gates = cls(merged_config(user_config, entry), cache_dir, tuple(forbid), tuple(allow or []))
        if user_config:
            _scratch_repo(scratch)
            (scratch / CONFIG).write_text(gates.config, encoding="utf-8")
            done = _pre_commit(["install-hooks", "--config", CONFIG], scratch, {})
            if done.returncode != 0:
                last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["?"]
                raise SiaError(
                    f"pre-commit cannot set up the hooks in this repository's {CONFIG} "
                    f"(it must run offline: use `repo: local` hooks): {last[0][:200]}"
                )
        return gates

    def check(self, files: dict[str, bytes], scratch: Path) -> list[GateResult]:
        """Run pre-commit on the candidate's files; sia-git's hook reports per gate in JSON,
        the user's hooks by pre-commit's pass/fail lines."""
        repo = scratch / "gate-repo"
        _scratch_repo(repo)
        paths = []
        for rel, content in sorted(files.items()):
            target = repo / "sia-agent" / "agent" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            paths.append(f"sia-agent/agent/{rel}")
        (repo / CONFIG).write_text(self.config, encoding="utf-8")
        faults.point("gating")
        report = scratch / "gates.json"
        env = {
            "SIA_GATE_REPORT": str(report),
            "SIA_GATE_CACHE": str(self.cache_dir),
            "SIA_GATE_FORBID": ",".join(self.forbid),
            "SIA_GATE_ALLOW": ",".join(self.allow),
        }
        try:
            done = _pre_commit(["run", "--config", CONFIG, "--files", *paths], repo, env)
        except subprocess.TimeoutExpired:
            return [GateResult("pre-commit", False, f"pre-commit timed out after {TIMEOUT_S}s")]
        ours = (
            [GateResult.from_json(g) for g in json.loads(report.read_text())]
            if report.is_file()
            else []
        )
        theirs = _user_hook_results(done.stdout)
        if not ours and done.returncode != 0 and not theirs:
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            return [GateResult("pre-commit", False, "pre-commit failed: " + " | ".join(tail))]
        return ours + theirs


def _preflight() -> None:
    """Every gate's tool must be here before a run starts, not fail each candidate later."""
    import importlib.util

    from sia_git.gates.runners import semgrep_executable

    missing = [
        m
        for m in ("pre_commit", "ruff", "bandit", "detect_secrets", "yaml")
        if importlib.util.find_spec(m) is None
    ]
    if semgrep_executable() is None:
        missing.append("semgrep")
    if missing:
        raise SiaError(
            f"the gates need {', '.join(missing)}, which is not installed in "
            f"{sys.prefix}; reinstall sia-git (pip install sia-git)"
        )


def _user_hook_results(output: str) -> list[GateResult]:
    """Results of the hooks that are not sia-git's, read from pre-commit's output."""
    results: list[GateResult] = []
    current: GateResult | None = None
    for line in output.splitlines():
        m = _STATUS.match(line.rstrip())
        if m:
            current = None
            name = m.group("name").strip()
            if name.startswith("sia-git gates") or m.group("status") == "Skipped":
                continue
            label = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
            current = GateResult(f"hook:{label}", m.group("status") == "Passed", "")
            results.append(current)
        elif current is not None and not current.passed and line.strip():
            current.report = (current.report + "\n" + line).strip()[:4000]
    return results


def install(repo_root: Path) -> tuple[Path, bool]:
    """Add sia-git's hook to the repository's pre-commit config and install pre-commit's git
    hook; return the config's path and whether it existed before."""
    path = repo_root / CONFIG
    existed = path.is_file()
    text = merged_config(path.read_text(encoding="utf-8") if existed else None, "sia-git check")
    path.write_text(text, encoding="utf-8")
    # The one place a person asks for git hooks: pre-commit's own (it refuses a hooksPath).
    done = _pre_commit(["install"], repo_root, {}, hooks_off=False)
    if done.returncode != 0:
        last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["?"]
        raise SiaError(f"pre-commit install failed: {last[0][:200]}")
    return path, existed
