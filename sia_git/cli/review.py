"""Commands that judge, undo or carry generations: eval, revert, transfer, pr, reviews."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sia_git.cli.common import json_option, repo_option, run_option
from sia_git.cli.options import eval_options
from sia_git.core.extensions import FORGES


@click.command("eval")
@click.argument("rev", required=False)
@eval_options
@repo_option
def eval_(rev: str | None, repo: Path, as_json: bool, markdown: bool, **opts: Any) -> None:
    """Run generation REV's agent again in the sandbox, with its pinned adapter (pulled from the
    hub if it is not stored here), and compare it with a baseline [default REV: the newest
    run's latest generation in force: its tip, unless that is a revert]. The commit decides
    only its agent: the task, settings and gates are this side's, and what the commit says
    otherwise is listed as ignored. The result is stored as a git note (`git notes --ref
    sia-eval show REV`) and cached by the agent's tree, adapter and task version."""
    from sia_git.commands import eval as cmd

    if as_json and markdown:
        raise click.UsageError("give at most one of --json and --markdown")
    bisect, threshold = opts.pop("bisect_"), opts.pop("threshold")
    if bisect != (threshold is not None):
        raise click.UsageError("--bisect and --threshold go together")
    if bisect and (opts["baseline"] or opts["pr_comment"] is not None):
        raise click.UsageError("--bisect scores REV alone: drop --baseline and --pr-comment")
    fmt = "json" if as_json else "markdown" if markdown else "table"
    options = cmd.Options(fmt=fmt, bisect=threshold, **opts)
    if bisect:
        from sia_git.commands import bisect as step

        raise SystemExit(step.step(repo, rev or "HEAD", options))
    code = cmd.run(repo, rev, options)
    if code:
        raise SystemExit(code)


@click.command()
@click.argument("generation", type=int)
@run_option
@click.option("--reason", help="Why, for the revert commit's Sia-Reason trailer.")
@json_option
@repo_option
def revert(
    generation: int, run_id: str | None, reason: str | None, as_json: bool, repo: Path
) -> None:
    """Undo GENERATION with a `git revert` commit on the run branch, with trailers saying what,
    why and the score the branch returns to; `evolve --run` goes on from there."""
    from sia_git.commands import revert as cmd

    cmd.run(repo, run_id, generation, reason=reason, as_json=as_json)


@click.command()
@click.argument("generation", type=int)
@run_option
@click.option("--to", "to", required=True, metavar="RUN",
              help="The run to carry it to (its name or a unique prefix).")  # fmt: skip
@json_option
@repo_option
def transfer(generation: int, run_id: str | None, to: str, as_json: bool, repo: Path) -> None:
    """Carry GENERATION's change (of --run, default the newest run) to run --to: its knob
    values for a knobs generation, a three-way merge of its agent files otherwise. That run goes
    on for one generation with it as the only candidate, gated and scored against its tip, and
    commits it with a Sia-Transferred-From trailer when it wins. Exit 0: committed; 1: not (the
    reason is printed)."""
    from sia_git.commands import transfer as cmd

    code = cmd.run(repo, generation, run_id=run_id, to=to, as_json=as_json)
    if code:
        raise SystemExit(code)


@click.command()
@run_option
@click.option(
    "--review",
    "--mode",
    "mode",
    type=click.Choice(["pr", "run-pr"]),
    default="pr",
    show_default=True,
    help="A pull request per accepted generation, or one for the whole run.",
)
@click.option(
    "--forge",
    type=FORGES.choice(),
    metavar="NAME",
    default=FORGES.default,
    show_default=True,
    help=f"Where pull requests go: {FORGES.help()}.",
)
@click.option(
    "--review-base",
    "--base",
    "base_branch",
    help="Branch a run's pull request targets (default: the branch checked out, else main).",
)
@click.option("--github-repo", help="owner/name (default: GITHUB_REPOSITORY or origin's URL).")
@click.option("--merge", is_flag=True, help="Also merge the pull requests (oldest first).")
@json_option
@repo_option
def pr(
    run_id: str | None,
    mode: str,
    forge: str,
    base_branch: str | None,
    github_repo: str | None,
    merge: bool,
    as_json: bool,
    repo: Path,
) -> None:
    """Open or update pull requests for a run's generations (or the run), with score tables,
    improvement notes, gates, cost and lever."""
    from sia_git.commands import pr as cmd

    cmd.run(repo, run_id, mode, forge_kind=forge, base=base_branch, github_repo=github_repo,
            merge=merge, as_json=as_json)  # fmt: skip


@click.command()
@click.argument("number", type=int, required=False)
@json_option
@repo_option
def reviews(number: int | None, as_json: bool, repo: Path) -> None:
    """The local forge's reviews: all of them, or review NUMBER with its body and comments."""
    from sia_git.commands import reviews as cmd

    cmd.run(repo, number, as_json)
