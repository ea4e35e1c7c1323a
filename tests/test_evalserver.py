"""The trusted evaluator runs in forked children of a warm interpreter (sia_git/evalserver.py):
each run must behave as `python script.py args` in a fresh process did, because that is what
every task's evaluator was written against: argv, working directory, environment, sys.path,
stdin, stdout, stderr, exit status, atexit, and no state carried from one run to the next."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sia_git.tasks.evalserver import Pool, TimedOut

SCRIPT = """
import atexit, json, os, sys
import helper  # beside the script: sys.path[0] is the script's folder
atexit.register(lambda: print("atexit ran"))
print("argv", sys.argv[1:], "cwd", os.path.basename(os.getcwd()), "stdin", repr(sys.stdin.read()))
print("env", os.environ.get("EVAL_METRIC"), "helper", helper.VALUE)
print("leak from an earlier run:", hasattr(json, "LEAKED"))
json.LEAKED = True
print("to stderr", file=sys.stderr)
mode = sys.argv[1]
if mode == "code":
    sys.exit(3)
if mode == "message":
    sys.exit("a message to stderr")
if mode == "raise":
    raise ValueError("broken evaluator")
if mode == "unicode":
    print("caf\\u00e9 \\u2713")
"""


@pytest.fixture
def script(tmp_path: Path) -> Path:
    folder = tmp_path / "task"
    folder.mkdir()
    (folder / "helper.py").write_text("VALUE = 42\n")
    path = folder / "evaluate.py"
    path.write_text(SCRIPT)
    return path


def env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(tmp_path), "EVAL_METRIC": "f1"}


@pytest.mark.parametrize("mode", ["ok", "code", "message", "raise", "unicode"])
def test_a_run_is_what_a_fresh_interpreter_gives(script: Path, tmp_path: Path, mode: str) -> None:
    argv = [sys.executable, str(script), mode]
    cwd = script.parent
    fresh = subprocess.run(
        argv, cwd=cwd, env=env(tmp_path), capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    pool = Pool()
    try:
        for _ in range(2):  # the second run reuses the warm server: nothing carried over
            warm = pool.run(argv, cwd, env(tmp_path), timeout=30)
            assert (warm.returncode, warm.stdout) == (fresh.returncode, fresh.stdout)
            # A traceback names the runner's frames differently; its last line is the same.
            assert warm.stderr.splitlines()[-1] == fresh.stderr.splitlines()[-1]
    finally:
        pool.close()
    assert "leak from an earlier run: False" in fresh.stdout
    assert "atexit ran" in fresh.stdout and "helper 42" in fresh.stdout


def test_a_run_past_its_timeout_is_killed_and_the_server_goes_on(tmp_path: Path) -> None:
    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(30)\n")
    fast = tmp_path / "fast.py"
    fast.write_text("print('done')\n")
    pool = Pool()
    try:
        start = time.monotonic()
        with pytest.raises(TimedOut):
            pool.run([sys.executable, str(slow)], tmp_path, env(tmp_path), timeout=0.5)
        assert time.monotonic() - start < 10
        done = pool.run([sys.executable, str(fast)], tmp_path, env(tmp_path), timeout=30)
        assert done.stdout == "done\n"
    finally:
        pool.close()


def test_runs_at_once_each_get_their_own_output(tmp_path: Path) -> None:
    echo = tmp_path / "echo.py"
    echo.write_text("import sys, time\ntime.sleep(0.2)\nprint(sys.argv[1])\n")
    pool = Pool()
    try:
        with ThreadPoolExecutor(6) as threads:
            got = list(
                threads.map(
                    lambda i: pool.run(
                        [sys.executable, str(echo), str(i)], tmp_path, env(tmp_path), timeout=30
                    ),
                    range(6),
                )
            )
    finally:
        pool.close()
    assert [g.stdout for g in got] == [f"{i}\n" for i in range(6)]
    assert all(g.returncode == 0 for g in got)


def test_a_reply_that_arrived_with_the_one_before_is_not_waited_for(tmp_path: Path) -> None:
    """A run's two replies (its pid, then its status) can reach the pipe together when the
    driver is busy; reading the first must not swallow the second into a buffer that the
    wait on the pipe cannot see (a scaling bench of 128 candidates hung on it)."""
    import json

    from sia_git.tasks.evalserver import _Server

    quick = tmp_path / "quick.py"
    quick.write_text("pass\n")
    server = _Server(env(tmp_path))
    try:
        assert server.proc.stdin is not None
        request = {"argv": [str(quick)], "cwd": str(tmp_path)}
        request |= {"stdout": str(tmp_path / "o"), "stderr": str(tmp_path / "e")}
        server.proc.stdin.write((json.dumps(request) + "\n").encode())
        server.proc.stdin.flush()
        time.sleep(1.0)  # both replies are in the pipe by now
        assert "pid" in server._reply(None)
        assert server._reply(time.monotonic() + 5) == {"status": 0}
    finally:
        server.close()
