"""`evolve`'s output: a live display on a terminal, plain lines with --quiet and in a pipe.

The terminal is a real pseudo-terminal (the `pty` module), so rich decides for itself, as it
would for a user, whether it may redraw.
"""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
import threading
from pathlib import Path

from sia_git.evolve.progress import LiveProgress, Progress
from tests.conftest import GIT_ENV, Runner

ESC = b"\x1b["
CSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def in_terminal(repo: Path, *args: str) -> tuple[int, bytes]:
    """Run the real CLI with stdout and stderr on a pseudo-terminal; return what it drew."""
    leader, follower = pty.openpty()
    env = {**os.environ, **GIT_ENV, "TERM": "xterm-256color", "COLUMNS": "120"}
    env.pop("CI", None)  # CI runners set it, and it turns the live display off
    proc = subprocess.Popen(
        [sys.executable, "-m", "sia_git", *args],
        cwd=repo,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    out = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(leader)
    return proc.wait(timeout=60), out


def test_a_terminal_gets_a_live_display_with_generation_states_best_score_and_spend(
    repo: Path,
) -> None:
    # --accept 1: generation 2's gain is below the paired test's level; the display's
    # "accepted" state is what this needs.
    code, out = in_terminal(repo, "evolve", "--task", "penguins", "--max-gen", "2", "--accept", "1")
    assert code == 0, out.decode(errors="replace")
    assert ESC in out, "the display redraws itself"
    text = CSI.sub(b"", out).decode(errors="replace")
    assert "generation 1/2" in text and "generation 2/2" in text
    assert "best 0.6750 (gen 1)" in text
    assert "spend $0.0000" in text
    states = set(re.findall(r"c[12]\s+(proposing|gating|running|scoring|accepted|rejected)", text))
    assert {"proposing", "gating", "running", "scoring", "accepted", "rejected"} <= states, states
    # The plain lines are all still there, above the display.
    assert "gen 1: reference agent  dev 0.6750" in text
    assert re.search(r"done: sia/penguins-\S+ at generation \d", text)
    assert out.rstrip().endswith(b"\x1b[?25h") or b"\x1b[?25h" in out[-200:], (
        "the cursor is shown again at the end"
    )


def test_quiet_and_a_pipe_give_plain_lines(repo: Path, sia: Runner) -> None:
    code, out = in_terminal(repo, "evolve", "--task", "penguins", "--max-gen", "2", "--quiet")
    assert code == 0, out.decode(errors="replace")
    assert ESC not in out
    text = out.decode()
    assert "gen 1: reference agent  dev 0.6750" in text and "generation 2/2" not in text
    piped = sia("evolve", "--task", "penguins", "--max-gen", "2", cwd=repo)
    assert piped.returncode == 0, piped.stderr
    assert "\x1b[" not in piped.stdout + piped.stderr
    assert "gen 1: reference agent  dev 0.6750" in piped.stdout


def test_the_live_table_tracks_concurrent_candidates() -> None:
    from rich.console import Console

    sink = io.StringIO()
    live = LiveProgress(Console(file=sink, force_terminal=True, width=100))
    live.start("run-1", 5, lambda: 0.25, budget_usd=1.0)
    live.generation(3)
    threads = [
        threading.Thread(target=live.state, args=(3, f"c{i}", "running")) for i in range(1, 5)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    live.state(2, "c9", "running")  # a late report from the previous generation is ignored
    live.best(2, 0.875)
    console = Console(file=io.StringIO(), width=100)
    with console.capture() as cap:
        console.print(live._render())
    live.close()
    shown = cap.get()
    assert "generation 3/5" in shown and "best 0.8750 (gen 2)" in shown
    assert "spend $0.2500 of $1" in shown
    assert all(f"c{i}" in shown for i in range(1, 5)) and "c9" not in shown


def test_the_plain_progress_prints_lines_and_nothing_else() -> None:
    lines: list[str] = []
    plain = Progress(lines.append)
    plain.start("run-1", 5, lambda: 0.0, budget_usd=None)
    plain.generation(2)
    plain.state(2, "c1", "running")
    plain.echo("gen 2 c1: something")
    plain.close()
    assert lines == ["gen 2 c1: something"]
