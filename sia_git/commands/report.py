"""`sia-git report [RUN]`: an HTML page (and a PNG of its main plot) for one run."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sia_git.commands.common import open_run
from sia_git.core.errors import SiaError
from sia_git.report import data as report_data
from sia_git.report import html as report_html


def run(repo_path: Path, run_id: str | None, out: Path | None, *, as_json: bool = False) -> None:
    repo, hist = open_run(repo_path, run_id)
    # By default inside .git, not in the user's working tree (where `git add .` would take it).
    html_path = out or repo.sia_dir / "reports" / f"sia-report-{hist.run_id}.html"
    if html_path.suffix.lower() not in (".html", ".htm"):
        raise SiaError(f"--out must name an .html file (got {html_path})")
    if html_path.is_dir():
        raise SiaError(f"--out {html_path} is a folder; name the .html file to write")
    data = report_data.collect(repo, hist)
    if data.warning:
        click.echo(f"warning: {data.warning}", err=True)
    try:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        png = report_html.write(report_html.render(data), html_path)
    except (PermissionError, FileNotFoundError, NotADirectoryError) as exc:
        raise SiaError(f"--out {html_path}: cannot write there ({exc.strerror}); "
                       "name a file in a folder you can write") from None  # fmt: skip
    if as_json:
        best = data.best
        click.echo(json.dumps({"run": hist.run_id, "html": str(html_path), "png": str(png),
                               "best": None if best is None else {"generation": best.gen,
                               "commit": best.sha, "dev": best.dev}}, indent=1))  # fmt: skip
        return
    click.echo(f"wrote {html_path} and {png}")
    if data.best is not None:
        click.echo(
            f"best: generation {data.best.gen} at {data.best.sha[:10]} (dev {data.best.dev:.4f})"
        )
