"""The report page: one self-contained HTML file (plots inlined as PNG data), no network needed."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup, escape

from sia_git import __version__
from sia_git.core.resources import bundled
from sia_git.report import plots as report_plots
from sia_git.report.data import ReportData


@dataclass
class Rendered:
    html: str
    score_png: bytes  # the main plot, also written beside the page


def render(data: ReportData) -> Rendered:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(bundled("templates") / "report")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["markdown"] = markdown
    env.filters["diff"] = coloured_diff
    score = report_plots.score_plot(data)
    dev_test = report_plots.dev_test_plot(data)
    plots = {
        "score": _b64(score),
        "dev_test": _b64(dev_test) if dev_test else "",
        # A flat line at zero says nothing: an offline run gets no cost plot.
        "cost": _b64(report_plots.cost_plot(data)) if data.total_cost_usd else "",
    }
    frontier = report_plots.frontier_plot(data)
    plots["frontier"] = _b64(frontier) if frontier else ""
    cands = data.candidates()
    counts = {
        "accepted": sum(p.status == "accepted" for p in cands),
        "rejected": sum(p.status == "rejected" for p in cands),
        "reverted": sum(p.status == "reverted" for p in cands),
        "gate_failed": sum(p.gate_failed for p in cands),
    }
    html = env.get_template("report.html.j2").render(
        d=data, plots=plots, counts=counts, fmt=_fmt, version=__version__
    )
    return Rendered(html, score)


def write(rendered: Rendered, html_path: Path) -> Path:
    """Write the page and its main plot (same name, .png); returns the PNG's path."""
    html_path.parent.mkdir(parents=True, exist_ok=True)
    png = html_path.with_suffix(".png")
    html_path.write_text(rendered.html, encoding="utf-8")
    png.write_bytes(rendered.score_png)
    return png


def markdown(text: str) -> Markup:
    """An improvement note as HTML (model-written text: raw HTML in it is shown, not run)."""
    from markdown_it import MarkdownIt

    return Markup(MarkdownIt("commonmark", {"html": False}).enable("table").render(text))


def coloured_diff(text: str) -> Markup:
    """A unified diff with its added, removed and hunk lines marked for colour."""
    kinds = {"+": "add", "-": "del", "@": "hunk"}
    lines = []
    for line in text.splitlines():
        kind = "" if line.startswith(("+++", "---")) else kinds.get(line[:1], "")
        shown = escape(line)
        lines.append(f'<span class="{kind}">{shown}</span>' if kind else str(shown))
    return Markup("\n".join(lines))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
