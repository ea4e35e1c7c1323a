"""Run the trusted evaluator's Python scripts without starting an interpreter for each run.

Scoring was the largest part of the driver's time per candidate (docs/SCALING.md): a fresh
`python evaluate.py ...` per split and candidate, about 25 ms of interpreter start-up and
imports each. A warm server (one per evaluator environment) forks a child per run instead. The
child is what the fresh process was: its own process, in the given working directory, with
the script as `__main__`, `sys.argv` and `sys.path[0]` set as `python script.py args` sets
them, stdin empty, stdout and stderr captured, killed at the timeout, its exit status the
script's. The server starts with the evaluator's environment, so what the interpreter reads at
start-up (PYTHONPATH, LANG, PYTHONDONTWRITEBYTECODE) applies as before.

Protocol, one JSON line each way over the server's stdin and stdout: the request names the
script's argv, the working directory and two files for the child's stdout and stderr; the
server answers `{"pid": N}` when the child starts and `{"status": S}` when it ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sia_git.core import tmpfiles

SERVER = r"""
import io, json, os, runpy, sys
import argparse, csv, math, pathlib, re  # what evaluators import: loaded once, shared by fork
proto_in = os.fdopen(os.dup(0), "r")
proto_out = os.fdopen(os.dup(1), "w")
null = os.open(os.devnull, os.O_RDWR)
os.dup2(null, 0)
os.dup2(null, 1)  # stray output of the server itself never reaches the protocol
for line in proto_in:
    req = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            proto_in.close(); proto_out.close()
            out = os.open(req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            err = os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(out, 1); os.dup2(err, 2)
            sys.stdout, sys.stderr = (
                io.TextIOWrapper(
                    io.FileIO(fd, "w", closefd=False),
                    encoding="utf-8",
                    errors="backslashreplace",
                    write_through=True,
                )
                for fd in (1, 2)
            )
            if req.get("memory"):  # the trusted evaluator is capped too
                import resource
                resource.setrlimit(resource.RLIMIT_AS, (req["memory"], req["memory"]))
            os.chdir(req["cwd"])
            script = req["argv"][0]
            sys.argv = list(req["argv"])
            sys.path[0] = os.path.dirname(os.path.abspath(script))
            try:
                runpy.run_path(script, run_name="__main__")
                code = 0
            except SystemExit as exc:
                c = exc.code
                if c is not None and not isinstance(c, int):
                    print(c, file=sys.stderr)
                code = 0 if c is None else c if isinstance(c, int) else 1
            except MemoryError:
                code = 86  # OUT_OF_MEMORY: its limit, not a bug to show a traceback for
            except BaseException:
                import traceback
                traceback.print_exc()
                code = 1
        finally:
            try:
                import atexit
                atexit._run_exitfuncs()  # as the interpreter's own exit would
                for f in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
                    f.flush()
            finally:
                os._exit(code & 0xFF)
    proto_out.write(json.dumps({"pid": pid}) + "\n"); proto_out.flush()
    _, status = os.waitpid(pid, 0)
    proto_out.write(json.dumps({"status": os.waitstatus_to_exitcode(status)}) + "\n")
    proto_out.flush()
"""


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str


class TimedOut(Exception):
    pass


OUT_OF_MEMORY = 86  # the child's exit status when the evaluator hit its memory limit


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


class _Server:
    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=env.get("HOME") or None,
            # Unbuffered: `_reply` waits on the pipe itself, so no reply may sit read ahead in
            # a buffer (a run's two replies often arrive together).
            bufsize=0,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _reply(self, deadline: float | None) -> dict:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not select.select([fd], [], [], wait)[0]:
            raise TimedOut
        line = self.proc.stdout.readline()
        if not line:
            raise OSError("the evaluator server ended")
        return json.loads(line)

    def run(self, argv: list[str], cwd: Path, timeout: float, *, memory_mb: int | None) -> Finished:
        assert self.proc.stdin is not None
        with tempfile.TemporaryDirectory(prefix=tmpfiles.prefix("eval")) as tmp:
            out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
            request = {"argv": argv, "cwd": str(cwd), "stdout": str(out), "stderr": str(err),
                       "memory": memory_mb * 1024 * 1024 if memory_mb else None}  # fmt: skip
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
            deadline = time.monotonic() + timeout
            pid = self._reply(None)["pid"]
            try:
                status = self._reply(deadline)["status"]
            except TimedOut:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                self._reply(None)  # the server reaps it, and is ready for the next run
                raise
            return Finished(status, _text(out), _text(err))

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Pool:
    """Warm servers by environment, one run at a time each; more start as runs overlap, and
    at most MAX_IDLE wait for the next run (the oldest go first)."""

    MAX_IDLE = 8

    def __init__(self) -> None:
        self._idle: list[tuple[tuple[tuple[str, str], ...], _Server]] = []
        self._lock = threading.Lock()

    def run(
        self,
        argv: list[str],
        cwd: Path,
        env: dict[str, str],
        *,
        timeout: float,
        memory_mb: int | None = None,
    ) -> Finished:
        """`argv` is `[python, script, args...]`: the script runs in a child of a server,
        with at most `memory_mb` of address space (exit OUT_OF_MEMORY past it)."""
        key = tuple(sorted(env.items()))
        server = self._take(key) or _Server(env)
        try:
            done = server.run(argv[1:], cwd, timeout, memory_mb=memory_mb)
        except TimedOut:
            self._give(key, server)  # it reaped the child: ready for the next run
            raise
        except (OSError, ValueError):
            server.close()
            raise
        self._give(key, server)
        return done

    def _take(self, key: tuple[tuple[str, str], ...]) -> _Server | None:
        with self._lock:
            for i, (k, server) in enumerate(self._idle):
                if k == key:
                    del self._idle[i]
                    if server.alive():
                        return server
                    break
        return None

    def _give(self, key: tuple[tuple[str, str], ...], server: _Server) -> None:
        with self._lock:
            self._idle.append((key, server))
            extra = self._idle[: -self.MAX_IDLE] if len(self._idle) > self.MAX_IDLE else []
            del self._idle[: len(extra)]
        for _, old in extra:
            old.close()

    def close(self) -> None:
        with self._lock:
            servers, self._idle = [s for _, s in self._idle], []
        for s in servers:
            s.close()


POOL = Pool()
