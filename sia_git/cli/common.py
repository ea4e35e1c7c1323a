"""Options every command shares, and the type of a decorated function."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

repo_option = click.option(
    "-C",
    "--repo",
    "repo",
    type=click.Path(path_type=Path),
    default=".",
    show_default=True,
    help="Repository to work in.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
run_option = click.option("--run", "run_id", help="Run id (default: the newest run).")
