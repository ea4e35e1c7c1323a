"""Prompt templates: Jinja2 files in templates/prompts/, so a change to a prompt is a reviewable
diff (each has a snapshot test). Undefined variables are errors, never empty strings."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from sia_git.core.resources import bundled


@functools.cache
def _env() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(prompts_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=False,
    )  # noqa: S701 (not HTML)


def prompts_dir() -> Path:
    return bundled("templates") / "prompts"


def render(name: str, **context: Any) -> str:
    """Render `templates/prompts/<name>.md.j2`."""
    return _env().get_template(f"{name}.md.j2").render(**context).strip() + "\n"


def sample_tasks() -> list[str]:
    """Example task descriptions the Meta-Agent is shown for the shape of a task."""
    folder = prompts_dir() / "sample_tasks"
    return [p.read_text(encoding="utf-8").strip() for p in sorted(folder.glob("*.md"))]
