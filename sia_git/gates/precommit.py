"""The gates a candidate passes: sia-git's own (ruff, bandit, semgrep, secrets), run in this
process for many candidates at once, and the repository's own `.pre-commit-config.yaml` hooks
(from the run's base commit) through pre-commit, in a scratch repository holding the candidate.
`sia-git hooks install` puts sia-git's gates into a repository's config as a pre-commit hook
for people's commits: the same gates, the same findings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sia_git.core import childenv, faults
from sia_git.core.errors import SiaError
from sia_git.gates import Cache, GateResult, Options
from sia_git.gates.batch import GateBatcher

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
    args: list[str], cwd: Path, env: dict[str, str], *, hooks_off: bool = True
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
    """The gates every candidate of a run passes: sia-git's built-in gates in this process,
    batched across candidates (batch.py: one tool run per gate for candidates gated together),
    and the repository's own hooks, when it has any, through pre-commit. Findings are those
    `sia-git check` gives through pre-commit for a person's commit (tests/test_gate_batch.py)."""

    user_config: str | None  # the repository's .pre-commit-config.yaml, as of the run's base
    batcher: GateBatcher

    @classmethod
    def for_run(
        cls,
        user_config: str | None,
        cache_dir: Path,
        forbid: list[str],
        *,
        scratch: Path,
        allow: list[str] | None = None,
        secrets: Sequence[str] = (),
    ) -> CandidateGates:
        """Check the tools and the user's hooks once, before any candidate: a user hook
        pre-commit cannot install (a remote repo, offline) is a setup error, not a failed
        candidate. `secrets`: values no candidate's code may hold (the run's keys)."""
        _preflight()
        if user_config:
            merged_config(user_config, "sia-git check")  # a broken config is named here
            _scratch_repo(scratch)
            (scratch / CONFIG).write_text(user_config, encoding="utf-8")
            done = _pre_commit(["install-hooks", "--config", CONFIG], scratch, {})
            if done.returncode != 0:
                last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["?"]
                raise SiaError(
                    f"pre-commit cannot set up the hooks in this repository's {CONFIG} "
                    f"(it must run offline: use `repo: local` hooks): {last[0][:200]}"
                )
        opts = Options(tuple(forbid), tuple(allow or []), tuple(secrets))
        return cls(user_config or None, GateBatcher(opts, Cache(cache_dir)))

    def check(
        self,
        files: dict[str, bytes],
        scratch: Path,
        stand_ins: dict[str, bytes] | None = None,
    ) -> list[GateResult]:
        """The candidate's files, as `sia-agent/agent/<path>`, through the built-in gates (its
        Python files, as the hook's `types: [python]` picks them) and the user's hooks.
        `stand_ins` (path -> content): what the built-in gates read in a file's place (a knob
        candidate's knob-free variant); the user's hooks always read the file itself."""
        python = {
            f"sia-agent/agent/{rel}": (stand_ins or {}).get(rel, content)
            for rel, content in sorted(files.items())
            if _is_python(rel)
        }
        faults.point("gating")
        known = self.batcher.known(python) if python else []
        if known is not None and not self.user_config:
            return known
        repo = scratch / "gate-repo"
        shown = _write(files, repo)
        instead = _write(stand_ins or {}, scratch / "gate-stand-ins")
        swaps = {shown[k]: p for k, p in instead.items() if k in shown}
        theirs: list[GateResult] = []
        hooks = None
        if self.user_config:
            hooks = threading.Thread(target=lambda: theirs.extend(self._user_hooks(repo, shown)))
            hooks.start()
        if known is None:
            ours = self.batcher.check({k: shown[k] for k in python}, swaps) if python else []
        else:
            ours = known
        if hooks is not None:
            hooks.join()
        return ours + theirs

    def _user_hooks(self, repo: Path, shown: dict[str, Path]) -> list[GateResult]:
        assert self.user_config is not None
        _scratch_repo(repo)
        (repo / CONFIG).write_text(self.user_config, encoding="utf-8")
        try:
            done = _pre_commit(["run", "--config", CONFIG, "--files", *sorted(shown)], repo, {})
        except subprocess.TimeoutExpired:
            return [GateResult("pre-commit", False, f"pre-commit timed out after {TIMEOUT_S}s")]
        theirs = _user_hook_results(done.stdout)
        if done.returncode != 0 and not theirs:
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            return [GateResult("pre-commit", False, "pre-commit failed: " + " | ".join(tail))]
        return theirs


def _write(files: dict[str, bytes], repo: Path) -> dict[str, Path]:
    """Write the agent's files under `repo` as `sia-agent/agent/<path>`; the shown name of each
    (as findings name it) -> where it is."""
    shown = {}
    for rel, content in sorted(files.items()):
        target = repo / "sia-agent" / "agent" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        shown[f"sia-agent/agent/{rel}"] = target
    return shown


def _is_python(rel: str) -> bool:
    """What pre-commit's `types: [python]` selects of a candidate's files: by name (they are
    written without the executable bit, so identify reads no shebang)."""
    from identify import identify

    return "python" in identify.tags_from_filename(rel)


def _preflight() -> None:
    """Every gate's tool must be here before a run starts, not fail each candidate later."""
    import importlib.util

    from sia_git.gates.semgrep import semgrep_executable

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
    try:
        mine = path.read_text(encoding="utf-8") if existed else None
    except UnicodeDecodeError:
        raise SiaError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    text = merged_config(mine, "sia-git check")
    path.write_text(text, encoding="utf-8")
    # The one place a person asks for git hooks: pre-commit's own (it refuses a hooksPath).
    done = _pre_commit(["install"], repo_root, {}, hooks_off=False)
    if done.returncode != 0:
        last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["?"]
        raise SiaError(f"pre-commit install failed: {last[0][:200]}")
    return path, existed
