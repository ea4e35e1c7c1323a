"""The report's plots, drawn with matplotlib (headless: the Agg backend) into PNG bytes."""

from __future__ import annotations

import io
from typing import Any

from sia_git.report.data import Point, ReportData

# Colours by lever; the incumbent curve has its own so that tests (and eyes) can find it.
LEVER_COLOURS = {"harness": "#1f77b4", "knobs": "#2ca02c", "weights": "#9467bd"}
OTHER_COLOUR = "#7f7f7f"
CURVE_COLOUR = "#d62728"
DPI = 100


def _figure(width: float = 9.0, height: float = 4.5) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display, no GUI toolkit: works on any server
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    return fig, fig.add_subplot()


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def incumbent_curve(data: ReportData) -> list[tuple[int, float]]:
    """(generation, score) of the agent the run held after each generation: an accepted
    generation replaces it, a reverted one does not count (its revert undid it)."""
    curve: list[tuple[int, float]] = []
    current: float | None = None
    for gen in sorted({p.gen for p in data.points if p.gen is not None}):
        for p in data.points:
            if p.gen == gen and p.status == "accepted" and p.dev is not None:
                current = p.dev
        if current is not None:
            curve.append((gen, current))
    return curve


def score_plot(data: ReportData) -> bytes:
    """Every candidate's score per generation, marked by verdict and coloured by lever, with the
    incumbent's curve."""
    fig, ax = _figure()
    marks = {
        "accepted": dict(marker="o", s=64),
        "reverted": dict(marker="s", s=64),
        "rejected": dict(marker="x", s=40),
    }
    for status, style in marks.items():
        pts = [p for p in data.candidates() if p.status == status and p.dev is not None]
        for lever in sorted({p.lever or "harness" for p in pts}):
            mine = [p for p in pts if (p.lever or "harness") == lever]
            colour = LEVER_COLOURS.get(lever, OTHER_COLOUR)
            # A reverted generation is hollow; "x" has no face, so it takes the colour itself.
            paint = (
                {"c": colour}
                if status == "rejected"
                else {"c": "none" if status == "reverted" else colour, "edgecolors": colour}
            )
            ax.scatter(
                [p.gen for p in mine],
                [p.dev for p in mine],
                linewidths=1.5,
                zorder=3,
                label=f"{status}, {lever}",
                **paint,
                **style,
            )  # type: ignore[arg-type]
    curve = incumbent_curve(data)
    if curve:
        ax.step(
            [g for g, _ in curve],
            [s for _, s in curve],
            where="post",
            color=CURVE_COLOUR,
            linewidth=2.5,
            zorder=2,
            label="incumbent",
        )
    _mark_failed(ax, data.candidates())
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("generation")
    ax.set_ylabel(data.metric or "score")
    ax.set_title(f"{data.run_id}: score per generation")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def _mark_failed(ax: Any, points: list[Point]) -> None:
    """Candidates with no score (a gate, a crash, a timeout) sit on the x axis as triangles."""
    failed = [p for p in points if p.dev is None and p.gen is not None]
    if failed:
        low = ax.get_ylim()[0]
        ax.scatter(
            [p.gen for p in failed],
            [low] * len(failed),
            marker="v",
            c=OTHER_COLOUR,
            s=50,
            zorder=3,
            clip_on=False,
            label="failed (no score)",
        )


def dev_test_plot(data: ReportData) -> bytes | None:
    """Dev against test per candidate: points far from the diagonal are overfitting dev."""
    pts = [p for p in data.candidates() if p.dev is not None and p.test is not None]
    if not pts:
        return None
    fig, ax = _figure(5.5, 5.0)
    for status, colour in (
        ("rejected", OTHER_COLOUR),
        ("reverted", "#ff7f0e"),
        ("accepted", CURVE_COLOUR),
    ):
        mine = [p for p in pts if p.status == status]
        if mine:
            ax.scatter(
                [p.dev for p in mine],
                [p.test for p in mine],
                c=colour,
                s=40,
                label=status,
                zorder=3,
            )
    values = [v for p in pts for v in (p.dev, p.test) if v is not None]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.05 or 0.01
    ax.plot(
        [lo - pad, hi + pad],
        [lo - pad, hi + pad],
        color="#999999",
        linestyle="--",
        linewidth=1,
        label="dev = test",
    )
    ax.set_xlabel("dev score")
    ax.set_ylabel("test score")
    ax.set_title("dev against test")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def cost_plot(data: ReportData) -> bytes:
    """Cumulative model spending after each generation."""
    fig, ax = _figure(5.5, 5.0)
    gens = sorted({p.gen for p in data.points if p.gen is not None} | set(data.cost_by_gen))
    total, ys = 0.0, []
    for g in gens:
        total += data.cost_by_gen.get(g, 0.0)
        ys.append(total)
    ax.plot(gens, ys, marker="o", color="#1f77b4")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("generation")
    ax.set_ylabel("cumulative cost (USD)")
    ax.set_title("model spending" + ("" if total else " (none: no model calls)"))
    ax.grid(alpha=0.3)
    return _png(fig)


def frontier_plot(data: ReportData) -> bytes | None:
    """Score against the agent's run time for each accepted generation, the frontier's
    (score, run time, code size and cost at once) in the incumbent's colour and labelled;
    None with fewer than two timed generations (nothing to trade off)."""
    timed = [p for p in data.frontier if p.run_s is not None]
    if len(timed) < 2:
        return None
    fig, ax = _figure(7.0, 4.0)
    for on, colour, label in ((False, OTHER_COLOUR, "dominated"),
                              (True, CURVE_COLOUR, "on the frontier")):  # fmt: skip
        chosen = [p for p in timed if p.frontier == on]
        if chosen:
            ax.scatter([p.run_s for p in chosen], [p.score for p in chosen], color=colour,
                       label=label, zorder=3)  # fmt: skip
    for p in timed:
        if p.frontier:
            ax.annotate(f"g{p.gen}", (p.run_s, p.score), textcoords="offset points",
                        xytext=(4, 4))  # fmt: skip
    ax.set_xlabel("agent run time (s)")
    ax.set_ylabel(data.metric.split(" (")[0] or "score")
    ax.set_title("Trade-off: score against run time (frontier: also code size and cost)")
    ax.legend(loc="best")
    return _png(fig)
