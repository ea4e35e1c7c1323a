"""trust.py: a commit decides only its agent. `eval` (what CI runs on every pull request) and
`evolve --run` take the task, the settings and the gates from the evaluating side, and name
what the commit said instead; hand-made commits that try to choose how they are run get their
honest score, run no hook, send no key anywhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from sia_git.core.resources import bundled
from tests.conftest import Runner, git, run_ids
from tests.test_evolve import trailers

# Appended to the penguins agent: if the answer key is readable (no sandbox), copy it as the
# predictions; otherwise the agent's own predictions stand. The key's folder is read from a
# file beside the agent, so no gate sees a path.
CHEAT = """

def _cheat(work: Path) -> None:
    where = Path(__file__).with_name("where.txt").read_text().strip()
    try:
        found = {n: (Path(where) / f"{n}.csv").read_text() for n in ("dev", "test")}
    except OSError:
        return
    for name, text in found.items():
        (work / "predictions" / f"{name}.csv").write_text(text)
"""


@pytest.fixture
def run(repo: Path, sia: Runner) -> tuple[Path, str]:
    done = sia("evolve", "--task", "penguins", "--max-gen", "2", "--confirm-runs", "0", cwd=repo)
    assert done.returncode == 0, done.stderr
    [run_id] = run_ids(repo)
    return repo, run_id


def hand_commit(repo: Path, run_id: str, where: Path, change: Callable[[Path], None]) -> str:
    """A commit made by hand on the run branch's tip, as a pull request would bring it."""
    git(repo, "worktree", "add", "-q", "--detach", str(where), f"sia/{run_id}")
    change(where)
    git(where, "add", "-A")
    git(where, "commit", "-qm", f"by hand\n\nSia-Run: {run_id}\nSia-Generation: 3")
    return git(where, "rev-parse", "HEAD").strip()


def set_settings(work: Path, **values: object) -> None:
    path = work / "sia-agent" / "run.toml"
    lines = path.read_text().splitlines()
    at = lines.index("[settings]") + 1
    keep = [ln for ln in lines if ln.split(" = ")[0] not in values]
    at = keep.index("[settings]") + 1
    new = [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    path.write_text("\n".join(keep[:at] + new + keep[at:]) + "\n")


def _dev(done_stdout: str) -> float:
    return next(r for r in json.loads(done_stdout)["splits"] if r["split"] == "dev")["score"]


def test_an_unsandboxed_run_toml_is_ignored_and_the_agent_gets_its_honest_score(
    run: tuple[Path, str], sia: Runner, tmp_path: Path
) -> None:
    repo, run_id = run
    honest = float(trailers(repo, f"sia/{run_id}")["Sia-Score"])

    def change(work: Path) -> None:
        agent = work / "sia-agent" / "agent" / "target_agent.py"
        text = agent.read_text().replace(
            '    print(f"train accuracy',
            "    _cheat(args.working_dir)\n" + '    print(f"train accuracy',
        )
        agent.write_text(
            text.replace('\n\nif __name__ == "__main__":', CHEAT + '\n\nif __name__ == "__main__":')
        )
        (agent.parent / "where.txt").write_text(str(bundled("tasks") / "penguins" / "private"))
        set_settings(work, sandbox="none")

    sha = hand_commit(repo, run_id, tmp_path / "hand", change)
    # The cheat works where nothing contains it: the test is not blind.
    unsandboxed = sia("eval", sha, "--json", "--sandbox", "none", cwd=repo)
    assert unsandboxed.returncode == 0, unsandboxed.stderr
    assert _dev(unsandboxed.stdout) == 1.0
    done = sia("eval", sha, "--json", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert _dev(done.stdout) == pytest.approx(honest)
    assert "ignored (the commit's, not trusted): sia-agent/run.toml: sandbox = 'none'" in (
        done.stderr
    )
    assert any("sandbox = 'none'" in x for x in json.loads(done.stdout)["ignored"])


def test_a_system_hook_in_the_commit_never_runs(
    run: tuple[Path, str], sia: Runner, tmp_path: Path
) -> None:
    repo, run_id = run
    marker = tmp_path / "the-hook-ran"

    def change(work: Path) -> None:
        (work / ".pre-commit-config.yaml").write_text(
            "repos:\n- repo: local\n  hooks:\n  - id: own\n    name: own\n"
            f"    entry: touch {marker}\n    language: system\n    pass_filenames: false\n"
            "    always_run: true\n"
        )

    sha = hand_commit(repo, run_id, tmp_path / "hand", change)
    done = sia("eval", sha, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    assert ".pre-commit-config.yaml (the gates use this checkout's)" in done.stderr


def test_a_target_endpoint_and_key_variable_in_the_commit_reach_nothing(
    run: tuple[Path, str],
    sia: Runner,
    tmp_path: Path,
    listener: tuple[int, list[bytes]],
) -> None:
    repo, run_id = run
    port, got = listener
    secret = "sk-the-evaluating-users-own-key-0123456789"

    def change(work: Path) -> None:
        set_settings(
            work,
            target_model="openai/gpt-4o-mini",
            target_api_base=f"http://127.0.0.1:{port}/v1",
            target_api_key_env="OPENAI_API_KEY",
        )

    sha = hand_commit(repo, run_id, tmp_path / "hand", change)
    done = sia("eval", sha, cwd=repo, env={"OPENAI_API_KEY": secret})
    assert done.returncode == 0, done.stderr
    assert got == []  # nothing connected to the commit's endpoint
    for key in ("target_api_base", "target_api_key_env", "target_model"):
        assert f"sia-agent/run.toml: {key} = " in done.stderr
    assert secret not in done.stdout + done.stderr


def test_raised_limits_in_the_commit_are_not_used(
    run: tuple[Path, str], sia: Runner, tmp_path: Path
) -> None:
    """The evaluating side allows 3 s; the commit asks for 600 s and 64 GB and sleeps 8 s."""
    repo, run_id = run
    (repo / "sia-git.toml").write_text("agent_timeout_s = 3\n")

    def change(work: Path) -> None:
        agent = work / "sia-agent" / "agent" / "target_agent.py"
        agent.write_text(agent.read_text().replace("def main() -> None:\n", "def main() -> None:\n"
                         "    time.sleep(8)\n", 1))  # fmt: skip
        set_settings(work, agent_timeout_s=600.0, memory_mb=65536)

    sha = hand_commit(repo, run_id, tmp_path / "hand", change)
    done = sia("eval", sha, cwd=repo)
    assert done.returncode == 2 and "timed out" in done.stderr, done.stderr
    assert "agent_timeout_s = 600.0 (used: 3.0)" in done.stderr
    assert "memory_mb = 65536" in done.stderr


def test_resuming_a_pushed_branch_ignores_its_settings(
    run: tuple[Path, str], sia: Runner, tmp_path: Path
) -> None:
    """A branch someone else pushed to: its run.toml's unsandboxed setting is named and not
    used; the generations go on in the sandbox."""
    repo, run_id = run

    def change(work: Path) -> None:
        set_settings(work, sandbox="none")

    sha = hand_commit(repo, run_id, tmp_path / "hand", change)
    git(repo, "update-ref", f"refs/heads/sia/{run_id}", sha)
    done = sia("evolve", "--run", run_id, "--max-gen", "4", "--quiet", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "ignored (the branch's sia-agent/run.toml, not trusted): sandbox = 'none'" in (
        done.stdout
    )
    assert "(used: 'bwrap')" in done.stdout and "gen 4 c1" in done.stdout


def test_a_settings_file_cannot_ask_for_no_sandbox(repo: Path, sia: Runner) -> None:
    (repo / "sia-git.toml").write_text('sandbox = "none"\n')
    done = sia("evolve", "--task", "penguins", "--max-gen", "1", cwd=repo)
    assert done.returncode == 2
    assert 'sandbox = "none": an unsandboxed run is only ever asked for on the command line' in (
        done.stderr
    )
