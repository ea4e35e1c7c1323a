"""Where the bundled tasks, templates and hooks live, in a checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent.parent  # sia_git/


def bundled(name: str) -> Path:
    """Return the folder `tasks`, `templates` or `hooks`.

    A wheel carries them under sia_git/_bundled/ (see pyproject.toml); an editable install or a
    checkout finds them at the top of the repository.
    """
    for candidate in (_PKG / "_bundled" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"sia-git is missing its bundled '{name}' folder; reinstall sia-git")


def evaluator_script(name: str) -> Path:
    """A built-in evaluator: a standalone script in templates/evaluators/ that tasks name with
    `builtin = NAME` and that `sia-git init` copies into a new task as its evaluate.py."""
    path = bundled("templates") / "evaluators" / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(path)
    return path
