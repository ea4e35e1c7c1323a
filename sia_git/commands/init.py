"""`sia-git init --task NAME`: scaffold a custom task that runs as it is."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from sia_git.commands import ci_source
from sia_git.core.errors import SiaError
from sia_git.core.resources import bundled, evaluator_script

WORKFLOW = Path(".github") / "workflows" / "sia-git.yml"


def run(
    name: str | None, directory: Path | None, ci: str | None = None, *, source: str | None = None
) -> None:
    if source is not None and not ci:
        raise SiaError("--sia-git-from goes with --ci: it is where the workflow installs sia-git")
    if ci:
        _ci(ci, directory or Path("."), source)
        if not name:
            return
    if not name:
        raise SiaError("nothing to do: pass --task NAME to scaffold a task, or --ci github")
    if not name.replace("-", "").replace("_", "").isalnum() or not name.isascii():
        raise SiaError(f"--task: '{name}' must be letters, digits, '-' and '_' only")
    if len(name) > 100:
        raise SiaError(f"--task: the name is {len(name)} characters; at most 100 (it names "
                       "the run's branch and files)")  # fmt: skip
    dest = directory or Path(name)
    if dest.exists() and not dest.is_dir():
        raise SiaError(f"--dir {dest}: a file, not a folder; name a new or empty folder")
    if dest.exists() and any(dest.iterdir()):
        raise SiaError(f"{dest} already exists and is not empty; choose another --dir")
    shutil.copytree(
        bundled("templates") / "task",
        dest,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    # `git add .` must not commit the answer key (evolve would refuse the task) or bytecode.
    (dest / ".gitignore").write_text("private/\n__pycache__/\n*.pyc\n")
    manifest = dest / "task.toml"
    manifest.write_text(manifest.read_text().replace("{{name}}", name))
    shutil.copyfile(evaluator_script("accuracy"), dest / "evaluate.py")
    click.echo(f"created task '{name}' in {dest}")
    click.echo(f"try it: sia-git evolve --task-dir {dest} --max-gen 3")
    click.echo("then replace public/, private/ and reference/target_agent.py with your own")


def _ci(kind: str, root: Path, source: str | None) -> None:
    """Write the CI workflow that evaluates pull requests from run branches."""
    if root.exists() and not root.is_dir():
        raise SiaError(f"--dir {root}: a file, not a folder; name the repository's folder")
    dest = root / WORKFLOW
    if dest.exists():
        raise SiaError(f"{dest} already exists; remove it first to write it again")
    requirement = ci_source.requirement(source)
    dest.parent.mkdir(parents=True, exist_ok=True)
    text = (bundled("templates") / "ci" / f"{kind}.yml").read_text(encoding="utf-8")
    # CI installs the sia-git that wrote the workflow (the version the runs record).
    dest.write_text(text.replace("{{requirement}}", requirement), encoding="utf-8")
    click.echo(
        f"created {dest}: pull requests from sia/* branches are evaluated with "
        "`sia-git eval --fail-on-regression`"
    )
    click.echo(f"it installs sia-git{requirement}")
    click.echo(
        "for a task whose answers are not built in, add the repository secret "
        "SIA_TASK_PRIVATE (see the comment at the top of the file)"
    )
