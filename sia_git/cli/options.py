"""`sia-git eval`'s flags."""

from __future__ import annotations

from pathlib import Path

import click

from sia_git.cli.common import F
from sia_git.core.extensions import SANDBOXES

EVAL_OPTIONS = [
    click.option(
        "--pr-comment",
        type=int,
        metavar="NUMBER",
        help="Also post the Markdown table on GitHub pull request NUMBER, updating the one it "
        "posted before (GITHUB_TOKEN or GH_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL).",
    ),
    click.option(
        "--split",
        default="all",
        show_default=True,
        help="Split to report (dev, test, ...) or all; regressions are judged on the "
        "task's selection split.",
    ),
    click.option(
        "--baseline", help="Commit to compare with [default: REV's parent on the run branch]."
    ),
    click.option("--json", "as_json", is_flag=True, help="Print JSON for machines."),
    click.option("--markdown", is_flag=True, help="Print Markdown (a pull-request comment)."),
    click.option(
        "--fail-on-regression",
        is_flag=True,
        help="Exit 1 when the selection split's score falls below the baseline's by more "
        "than --tolerance.",
    ),
    click.option(
        "--tolerance",
        type=click.FloatRange(min=0),
        default=0.0,
        show_default=True,
        help="How far below the baseline still counts as no regression.",
    ),
    click.option(
        "--task-dir",
        type=click.Path(path_type=Path),
        help="The task folder to score with (in CI: the base branch's sia-agent/task with the "
        "private answers unpacked into it). Default: the task this machine's run used, else "
        "`task`/`task_dir` in sia-git.toml. The task a commit names is never used.",
    ),
    click.option(
        "--task",
        help="A built-in task to score with (see `sia-git tasks`), instead of --task-dir.",
    ),
    click.option(
        "--sandbox",
        type=SANDBOXES.choice(),
        metavar="NAME",
        help="The sandbox backend to run the agent in [default: the run's, else "
        f"{SANDBOXES.default}]; `none` runs it unsandboxed and is only ever taken from this "
        "flag.",
    ),
]


EVAL_OPTIONS += [
    click.option(
        "--bisect",
        "bisect_",
        is_flag=True,
        help="One step of `git bisect run`: score REV [default: HEAD] alone and exit 0 (good: "
        "the selection split's score is on the good side of --threshold), 1 (bad) or 125 "
        "(skip: not a generation, or not scorable).",
    ),
    click.option(
        "--threshold",
        type=float,
        help="With --bisect: the line a good commit's score is at or above (at or below for a "
        "metric to minimise).",
    ),
]


def eval_options(f: F) -> F:
    for option in reversed(EVAL_OPTIONS):
        f = option(f)
    return f
