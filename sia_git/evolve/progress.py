"""What `evolve` shows while it works: plain lines, or (on a terminal) a live rich display.

The loop reports through a Progress: lines (`echo`), the generation it is on, each candidate's
state as it moves through proposing, gating, training, running and scoring, the best score so
far and the spend. The plain Progress prints the lines and ignores the rest, so `--quiet`, pipes
and CI logs stay plain text; LiveProgress keeps a small table of the current generation under
the same lines.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import click


class Progress:
    """Plain output: every line as it comes, nothing redrawn."""

    def __init__(self, echo: Callable[[str], None] | None = None) -> None:
        self._echo = echo or click.echo

    def echo(self, line: str) -> None:
        self._echo(line)

    def start(
        self, run_id: str, max_gen: int, spend: Callable[[], float], *, budget_usd: float | None
    ) -> None:
        """The run is known: its id, its last generation, and how to read its spend."""

    def generation(self, gen: int) -> None:
        """Generation `gen` begins: candidates from the previous one are cleared."""

    def state(self, gen: int, label: str, state: str) -> None:
        """Candidate `label` (c1, c2, ..., or the reference agent / a re-run) is now `state`."""

    def best(self, gen: int, score: float | None) -> None:
        """The incumbent is generation `gen` with this score."""

    def close(self) -> None:
        """Stop redrawing (on success and on errors alike)."""


class LiveProgress(Progress):
    """A live table (rich) under the printed lines, redrawn four times a second."""

    def __init__(self, console: Any | None = None) -> None:
        from rich.console import Console

        super().__init__()
        self.console = console or Console()
        self._lock = threading.Lock()
        self._run, self._max_gen, self._gen = "", 0, 0
        self._spend: Callable[[], float] = lambda: 0.0
        self._budget: float | None = None
        self._best: tuple[int, float | None] | None = None
        self._states: dict[str, tuple[str, float]] = {}  # label -> (state, since)
        self._live: Any = None  # started once the run is known

    def echo(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def start(
        self, run_id: str, max_gen: int, spend: Callable[[], float], *, budget_usd: float | None
    ) -> None:
        from rich.live import Live

        with self._lock:
            self._run, self._max_gen, self._spend, self._budget = (
                run_id,
                max_gen,
                spend,
                budget_usd,
            )
        if self._live is None:
            self._live = Live(
                get_renderable=self._render,
                console=self.console,
                refresh_per_second=4,
                transient=True,
            )
            self._live.start()

    def generation(self, gen: int) -> None:
        with self._lock:
            self._gen, self._states = gen, {}

    def state(self, gen: int, label: str, state: str) -> None:
        with self._lock:
            if gen != self._gen and self._gen:
                return
            self._states[label] = (state, time.monotonic())
        if self._live is not None:
            self._live.refresh()  # every step is drawn, however short it was

    def best(self, gen: int, score: float | None) -> None:
        with self._lock:
            self._best = (gen, score)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()

    def _render(self) -> Any:
        # Text, not markup: rich renders the live table inside printed lines too, where
        # markup is off.
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            spend = self._spend()
            best = (
                "-"
                if self._best is None or self._best[1] is None
                else (f"{self._best[1]:.4f} (gen {self._best[0]})")
            )
            budget = f" of ${self._budget:g}" if self._budget else ""
            head = Table.grid(padding=(0, 2))
            head.add_row(
                Text(self._run, style="bold"),
                Text(f"generation {self._gen}/{self._max_gen}"),
                Text(f"best {best}", style="green"),
                Text(f"spend ${spend:.4f}{budget}"),
            )
            rows = Table(show_header=False, box=None, padding=(0, 2))
            now = time.monotonic()
            for label, (state, since) in self._states.items():
                rows.add_row(
                    Text(label), Text(state, style=_style(state)), Text(f"{now - since:5.1f}s")
                )
        outer = Table.grid()
        outer.add_row(head)
        outer.add_row(rows)
        return outer


class JsonProgress(Progress):
    """`evolve --json`: one JSON object per line on stdout, for machines: every event the loop
    reports (start, generation, candidate states, the best so far) and every printed line."""

    def _emit(self, event: str, **fields: Any) -> None:
        import json

        click.echo(json.dumps({"event": event, "t": round(time.time(), 3), **fields}))

    def echo(self, line: str) -> None:
        self._emit("message", text=line)

    def start(
        self, run_id: str, max_gen: int, spend: Callable[[], float], *, budget_usd: float | None
    ) -> None:
        self._emit("start", run=run_id, max_gen=max_gen, budget_usd=budget_usd)

    def generation(self, gen: int) -> None:
        self._emit("generation", generation=gen)

    def state(self, gen: int, label: str, state: str) -> None:
        self._emit("candidate", generation=gen, candidate=label, state=state)

    def best(self, gen: int, score: float | None) -> None:
        self._emit("best", generation=gen, score=score)

    def close(self) -> None:
        self._emit("end")


def _style(state: str) -> str:
    if state.startswith("accepted"):
        return "bold green"
    return "red" if state.startswith("rejected") else "cyan"


def for_terminal(quiet: bool, as_json: bool = False) -> Progress:
    """The live display on an interactive terminal; plain lines with --quiet, in a pipe, in CI,
    or where the terminal cannot redraw (TERM=dumb); JSON lines with --json."""
    if as_json:
        return JsonProgress()
    live = (
        not quiet
        and sys.stdout.isatty()
        and os.environ.get("TERM", "") != "dumb"
        and not os.environ.get("CI")
    )
    return LiveProgress() if live else Progress()
