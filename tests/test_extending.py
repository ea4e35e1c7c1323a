"""Every extension point, added from outside sia_git/ as docs/EXTENDING.md says: one plugin
module registers a sandbox backend, a proposer, a forge, a lever, a search strategy, an
executor, an edit format and a gate; an entry point in the `sia_git.plugins` group names the
module. Each is listed in `--help`, accepted by a config file, and used by an `evolve` run.
Nothing in sia_git/ names them."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

from tests.conftest import Runner, git
from tests.fakellm import FakeLLM, Reply, text

PLUGIN = textwrap.dedent('''
    """A test plugin: one of each extension point. Each writes what it did into used.jsonl."""
    import json
    from pathlib import Path

    from sia_git.agents.formats import Text
    from sia_git.core.extensions import (
        EDIT_FORMATS, EXECUTORS, FORGES, GATES, LEVERS, PROPOSERS, SANDBOXES, STRATEGIES,
    )
    from sia_git.evolve.proposers.base import Maker, Proposer, Round
    from sia_git.forges.base import Forge, Review
    from sia_git.levers.base import Lever, Request, Situation
    from sia_git.levers.proposal import ENTRY, Improvement, Proposal
    from sia_git.levers.strategies import Ask, Strategy
    from sia_git.sandbox.backends.none import Unsandboxed
    from sia_git.sandbox.spec import RunResult, RunSpec

    USED = Path(__file__).with_name("used.jsonl")


    def used(point, **what):
        with USED.open("a") as f:
            f.write(json.dumps({"point": point, **what}) + "\\n")


    class CountingBackend(Unsandboxed):
        @classmethod
        def warning(cls):
            return "the counting test backend runs agents unsandboxed"

        def run(self, spec: RunSpec) -> RunResult:
            used("backend", agent=spec.agent_dir.name)
            return super().run(spec)


    def comment(files, line):
        source = files[ENTRY].decode() + f"\\n# {line}\\n"
        return {**files, ENTRY: source.encode()}


    class CommentProposer(Proposer):
        def describe(self) -> str:
            return "one comment per generation (test plugin)"

        def propose(self, rnd: Round) -> list[Maker]:
            used("proposer", gen=rnd.gen)
            subject = f"comment for generation {rnd.gen}"
            proposal = Proposal(lever="harness", files=comment(rnd.files, subject),
                                improvement=Improvement(subject, "A test plugin's change.\\n"))
            return [lambda: proposal]


    class Tagline(Lever):
        """Appends a tagline comment: a lever that needs no model."""

        def unavailable(self, s: Situation):
            return None

        def propose(self, req: Request):
            used("lever", gen=req.gen)
            return [Proposal(lever=self.name, files=comment(req.files, f"tagline {req.gen}.{k}"),
                             improvement=Improvement(f"tagline {req.gen}.{k}", "A tagline.\\n"))
                    for k in range(req.n)]

        def trailers(self, p):
            return [("Sia-Tagline", p.improvement.title)]


    class First(Strategy):
        """The untried values of each knob's choices, in the space's order (model first)."""

        def propose(self, ask: Ask):
            used("strategy", gen=ask.generation)
            tried = [t.knobs for t in ask.history]
            out = []
            for name, spec in ask.space.items():
                if isinstance(spec, list):
                    for value in spec:
                        knobs = {**ask.current, name: value}
                        if knobs != ask.current and knobs not in tried and knobs not in out:
                            out.append(knobs)
            return out[: ask.n]


    def logged(sandbox, address, echo):
        class Logged:
            backend = sandbox.backend

            def run(self, spec):
                used("executor", agent=spec.agent_dir.name)
                return sandbox.run(spec)

            def close(self):
                sandbox.close()

        return Logged()


    class Terse(Text):
        def drive(self, agent, session, user):
            used("edit_format")
            return super().drive(agent, session, user)


    class NoTodo:
        """Fails a file that has a TODO."""

        def key(self, opts):
            return "no-todo-1"

        def scan(self, paths, opts):
            found = {str(p): [] for p in paths}
            for p in paths:
                for n, line in enumerate(Path(p).read_text().splitlines(), 1):
                    if "TODO" in line:
                        found[str(p)].append({"line": n, "rule": "todo", "message": line})
            used("gate", files=len(paths))
            return found


    class MemoForge(Forge):
        reviews = []

        @classmethod
        def create(cls, repo, github_repo=None):
            return cls()

        def push(self, branch, sha):
            used("forge", action="push", branch=branch)

        def find(self, head, base):
            return None

        def open(self, head, base, title, body):
            used("forge", action="open", head=head, base=base)
            return Review(1, "memo://1", "open", head, base)

        def update(self, review, title, body):
            used("forge", action="update")

        def comment(self, review, body):
            used("forge", action="comment")

        def merge(self, review):
            used("forge", action="merge")


    SANDBOXES.register("counting", f"{__name__}:CountingBackend", "test plugin: counts runs")
    PROPOSERS.register("comment", f"{__name__}:CommentProposer", "test plugin: adds a comment")
    LEVERS.register("tagline", f"{__name__}:Tagline", "test plugin: a tagline comment")
    STRATEGIES.register("first", f"{__name__}:First", "test plugin: first untried choices")
    EXECUTORS.register("logged", f"{__name__}:logged", "test plugin: logs each run")
    EDIT_FORMATS.register("terse", f"{__name__}:Terse", "test plugin: the text protocol, noted")
    GATES.register("no-todo", f"{__name__}:NoTodo", "test plugin: no TODO lines")
    FORGES.register("memo", f"{__name__}:MemoForge", "test plugin: reviews in a list")
''')

NAMES = {"sandbox": "counting", "proposer": "comment", "lever": "tagline", "search": "first",
         "executor": "logged", "edit-format": "terse", "forge": "memo"}  # fmt: skip


def _env(plugins: Path) -> dict[str, str]:
    return {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(plugins), os.environ.get("PYTHONPATH")]))
    }


def _install_plugin(where: Path) -> dict[str, str]:
    """What `pip install` of a plugin leaves: its module and a dist-info with the entry point."""
    where.mkdir()
    (where / "sia_counting_plugin.py").write_text(PLUGIN)
    info = where / "sia_counting_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: sia-counting-plugin\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text("[sia_git.plugins]\ncounting = sia_counting_plugin\n")
    return _env(where)


def _used(plugins: Path) -> list[dict[str, Any]]:
    path = plugins / "used.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _points(plugins: Path) -> set[str]:
    return {u["point"] for u in _used(plugins)}


def test_every_plugin_is_listed_in_help(tmp_path: Path, repo: Path, sia: Runner) -> None:
    env = _install_plugin(tmp_path / "plugins")
    shown = " ".join(sia("evolve", "--help", cwd=repo, env=env).stdout.split())
    for flag, name in NAMES.items():
        assert f"{name} (test plugin" in shown, (flag, shown)
    check = " ".join(sia("check", "--help", cwd=repo, env=env).stdout.split())
    assert "no-todo (test plugin: no TODO lines)" in check


def test_a_config_file_takes_the_plugins_and_an_offline_run_uses_them(
    tmp_path: Path, repo: Path, sia: Runner
) -> None:
    """sia-git.toml names the backend, executor, strategy and forge; the gate always runs."""
    plugins = tmp_path / "plugins"
    env = _install_plugin(plugins)
    (repo / "sia-git.toml").write_text(
        'sandbox = "counting"\nexecutor = "logged"\nsearch = "first"\nforge = "memo"\n'
        'review = "run-pr"\nlever = "knobs"\n'
    )
    # --accept 1: the forge is reached only through an accepted generation
    done = sia("evolve", "--task", "penguins", "--max-gen", "3", "--confirm-runs", "0",
               "--accept", "1", "--quiet", cwd=repo, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "warning: the counting test backend runs agents unsandboxed" in done.stdout
    assert {"backend", "executor", "strategy", "forge", "gate"} <= _points(plugins)
    tip = git(repo, "log", "-1", "--format=%B", "sia/" + _run(repo))
    assert "no-todo=pass" in tip and "ruff=pass" in tip
    assert "first" in tip  # the knob proposal names the strategy that made it


def test_a_plugin_lever_and_a_plugin_proposer_change_the_agent(
    tmp_path: Path, repo: Path, sia: Runner
) -> None:
    plugins = tmp_path / "plugins"
    env = _install_plugin(plugins)
    done = sia("evolve", "--task", "penguins", "--max-gen", "2", "--candidates", "1",
               "--lever", "tagline", "--confirm-runs", "0", "--quiet",
               cwd=repo, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "lever" in _points(plugins)
    run = _run(repo)
    trailers = git(repo, "log", "-1", "--format=%B", f"sia/{run}") + git(
        repo, "for-each-ref", "--format=%(contents)", f"refs/sia/{run}/rejected/"
    )
    assert "Sia-Lever: tagline" in trailers and "Sia-Tagline: tagline 2.0" in trailers
    done = sia("evolve", "--task", "penguins", "--max-gen", "3", "--candidates", "1",
               "--proposer", "comment", "--confirm-runs", "0", "--quiet", cwd=repo,
               env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "proposer one comment per generation (test plugin)" in done.stdout
    assert "gen 2 c1: comment for generation 2" in done.stdout


def test_a_plugin_edit_format_drives_the_feedback_agent(
    tmp_path: Path, repo: Path, sia: Runner
) -> None:
    plugins = tmp_path / "plugins"
    env = _install_plugin(plugins)
    edit = (
        "target_agent.py\n<<<<<<< SEARCH\nimport argparse\n=======\nimport argparse  # edited"
        "\n>>>>>>> REPLACE\n"
        'FINISH {"subject": "a comment", "diagnosis": "d", "hypothesis": "h", '
        '"change": "c", "lever": "harness", "lever_reason": "r"}\n'
    )

    def script(body: dict[str, Any], n: int) -> Reply:
        return text(edit)

    with FakeLLM(script) as llm:
        done = sia("evolve", "--task", "penguins", "--max-gen", "2", "--candidates", "1",
                   "--model", "openai/scripted", "--api-base", llm.api_base, "--edit-format",
                   "terse", "--agent", str(_reference()), "--confirm-runs", "0", "--quiet",
                   cwd=repo, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "edit_format" in _points(plugins)
    assert "gen 2 c1: a comment" in done.stdout


def test_the_help_and_the_errors_name_plugin_choices(
    tmp_path: Path, repo: Path, sia: Runner
) -> None:
    env = _install_plugin(tmp_path / "plugins")
    done = sia("evolve", "--task", "penguins", "--proposer", "nope", cwd=repo, env=env)
    assert done.returncode == 2
    assert "'nope' is not one of 'auto', 'search', 'feedback', 'comment'" in done.stderr
    (repo / "sia-git.toml").write_text('sandbox = "nope"\n')
    done = sia("evolve", "--task", "penguins", cwd=repo, env=env)
    assert done.returncode == 2
    assert "unknown sandbox backend (known: bwrap, unshare, docker, none, counting)" in (
        done.stderr
    )


def test_a_broken_plugin_is_one_line_naming_it(tmp_path: Path, repo: Path, sia: Runner) -> None:
    plugins = tmp_path / "plugins"
    env = _install_plugin(plugins)
    (plugins / "sia_counting_plugin.py").write_text("raise RuntimeError('not configured')\n")
    done = sia("evolve", "--task", "penguins", "--sandbox", "counting", cwd=repo, env=env)
    assert done.returncode != 0
    assert done.stderr.strip() == (
        "sia-git: error: plugin 'counting' (sia_counting_plugin) "
        "failed to load: RuntimeError: not configured"
    )


def _run(repo: Path) -> str:
    [branch] = git(repo, "for-each-ref", "--format=%(refname:strip=3)", "refs/heads/sia/").split()
    return branch


def _reference() -> Path:
    from sia_git.tasks.task import resolve

    return resolve("penguins", None).reference_agent
