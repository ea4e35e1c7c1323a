"""A sandbox backend and a proposer added from outside sia_git/, as docs/EXTENDING.md says: a
plugin module registers them, an entry point in the `sia_git.plugins` group names the module,
and `evolve --sandbox <name> --proposer <name>` runs with them. Nothing in sia_git/ names them."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from tests.conftest import Runner, git

PLUGIN = textwrap.dedent('''
    """A test plugin: a backend that runs agents like `--sandbox none` and counts its runs, and
    a proposer that adds one comment line to the incumbent agent per generation."""
    from pathlib import Path

    from sia_git.evolve.proposal import Proposal
    from sia_git.evolve.proposers import register as register_proposer
    from sia_git.evolve.proposers.base import Maker, Proposer, Round
    from sia_git.runs import ENTRY
    from sia_git.sandbox.backends import register as register_backend
    from sia_git.sandbox.backends.none import Unsandboxed
    from sia_git.sandbox.spec import RunResult, RunSpec

    COUNT = Path(__file__).with_name("backend-runs.txt")


    class CountingBackend(Unsandboxed):
        name = "counting"

        @classmethod
        def warning(cls):
            return "the counting test backend runs agents unsandboxed"

        def run(self, spec: RunSpec) -> RunResult:
            with COUNT.open("a") as f:
                f.write(f"{spec.agent_dir.name}\\n")
            return super().run(spec)


    class CommentProposer(Proposer):
        name = "comment"

        def describe(self) -> str:
            return "one comment per generation (test plugin)"

        def propose(self, rnd: Round) -> list[Maker]:
            source = rnd.source + f"\\n# the comment proposer was here in generation {rnd.gen}\\n"
            subject = f"comment for generation {rnd.gen}"
            text = f"# {subject}\\n\\nA test plugin's change.\\n"
            proposal = Proposal("harness", source, subject, text, None,
                                files={**rnd.files, ENTRY: source.encode()})
            return [lambda: proposal]


    register_backend("counting", f"{__name__}:CountingBackend", "test plugin: counts runs")
    register_proposer("comment", f"{__name__}:CommentProposer", "test plugin: adds a comment")
''')


def _env(plugins: Path) -> dict[str, str]:
    return {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(plugins), os.environ.get("PYTHONPATH")]))
    }


def _install_plugin(where: Path) -> None:
    """What `pip install` of a plugin leaves: its module and a dist-info with the entry point."""
    where.mkdir()
    (where / "sia_counting_plugin.py").write_text(PLUGIN)
    info = where / "sia_counting_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: sia-counting-plugin\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text("[sia_git.plugins]\ncounting = sia_counting_plugin\n")


def test_a_plugin_backend_and_proposer_run_evolve(tmp_path: Path, repo: Path, sia: Runner) -> None:
    plugins = tmp_path / "plugins"
    _install_plugin(plugins)
    env = _env(plugins)
    done = sia(
        "evolve",
        "--task",
        "penguins",
        "--max-gen",
        "3",
        "--candidates",
        "1",
        "--sandbox",
        "counting",
        "--proposer",
        "comment",
        cwd=repo,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "warning: the counting test backend runs agents unsandboxed" in done.stdout
    assert "proposer one comment per generation (test plugin)" in done.stdout
    assert "gen 2 c1: comment for generation 2" in done.stdout
    assert "gen 3 c1: comment for generation 3" in done.stdout
    runs = (plugins / "backend-runs.txt").read_text().split()
    assert len(runs) >= 3  # generation 1, and one candidate in each of generations 2 and 3
    # The candidates went through the same gates and records as any other.
    branch = git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/sia/").split()
    assert len(branch) == 1
    attempts = git(repo, "for-each-ref", "--format=%(refname)", "refs/sia/").split()
    assert any(r.endswith("/attempts/g0003") for r in attempts)


def test_the_help_and_the_errors_name_plugin_choices(
    tmp_path: Path, repo: Path, sia: Runner
) -> None:
    plugins = tmp_path / "plugins"
    _install_plugin(plugins)
    env = _env(plugins)
    done = sia("evolve", "--task", "penguins", "--proposer", "nope", cwd=repo, env=env)
    assert done.returncode == 2
    assert "unknown proposer (known: auto, search, feedback, comment)" in done.stderr
    done = sia("evolve", "--task", "penguins", "--sandbox", "nope", cwd=repo, env=env)
    assert "unknown sandbox backend (known: bwrap, unshare, docker, none, counting)" in (
        done.stderr
    )


def test_a_broken_plugin_is_one_line_naming_it(tmp_path: Path, repo: Path, sia: Runner) -> None:
    plugins = tmp_path / "plugins"
    _install_plugin(plugins)
    (plugins / "sia_counting_plugin.py").write_text("raise RuntimeError('not configured')\n")
    done = sia(
        "evolve",
        "--task",
        "penguins",
        "--sandbox",
        "counting",
        cwd=repo,
        env=_env(plugins),
    )
    assert done.returncode != 0
    assert done.stderr.strip() == (
        "sia-git: error: plugin 'counting' (sia_counting_plugin) "
        "failed to load: RuntimeError: not configured"
    )
