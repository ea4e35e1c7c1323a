"""The one error boundary of the command line: every way a command can end becomes an exit code
and, for an error, one line on stderr, never a traceback.

| code | meaning |
|---|---|
| 0 | done |
| 1 | a check found something: a gate failed (`check`), a regression (`eval
      --fail-on-regression`), a leak (`audit`) |
| 2 | an error to fix: a bad flag or value (usage), a missing file, a refused key, a full disk |
| 3 | the run is locked: another `evolve` is working on it |
| 70 | a bug in sia-git: the line names a log file with the traceback |
| 130 | interrupted (Ctrl-C or SIGTERM); a run resumes with `evolve --run` |
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from sia_git.core.errors import Interrupted, SiaError

EXIT_ERROR = 2
EXIT_BUG = 70
EXIT_INTERRUPTED = 130
# Out of space, quota, file too large, read-only: the machine's state, not a bug.
_STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


def run(main: Callable[[], Any], group: click.Group) -> NoReturn:
    """Call `main` (click in standalone_mode=False) and exit with what it came to."""
    signal.signal(signal.SIGTERM, _terminated)
    try:
        code = main()
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `sia-git`: the help, not an error
        click.echo(exc.ctx.get_help() if exc.ctx else group.get_help(click.Context(group)))
        sys.exit(0)
    except click.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        _fail(f"{exc.format_message()}{hint}", exc.exit_code)
    except click.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except Interrupted as exc:
        click.echo(f"sia-git: error: {exc}", err=True)
        # Leave now, as a kill would (which every phase survives), instead of waiting for
        # worker threads still inside a model call or an agent run.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exc.exit_code)
    except SiaError as exc:
        _fail(str(exc), exc.exit_code)
    except (KeyboardInterrupt, click.Abort):
        click.echo("sia-git: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - the boundary: nothing reaches the user raw
        why = _storage_error(exc) if isinstance(exc, OSError) else None
        if why is not None:
            _fail(
                f"{why}: free some space (or raise the file size limit) and run the command "
                "again; a run resumes with `sia-git evolve --run <run-id>`",
                EXIT_ERROR,
            )
        log = _crash_log(exc)
        _fail(
            f"internal error ({type(exc).__name__}: {str(exc)[:200]}); the traceback is in "
            f"{log}: please report it",
            EXIT_BUG,
        )
    sys.exit(code if isinstance(code, int) else 0)


def _terminated(signum: int, _frame: object) -> None:
    """SIGTERM (a `kill`, a CI job cancelled) ends a command as Ctrl-C does: `evolve` says how
    to resume instead of dying without a word."""
    raise KeyboardInterrupt


def _fail(line: str, code: int) -> NoReturn:
    click.echo(f"sia-git: error: {line}", err=True)
    sys.exit(code)


def _storage_error(exc: OSError) -> str | None:
    """'<reason> writing <file>' when `exc` is the disk's fault, else None. shutil.copytree
    gathers its failures into one shutil.Error whose errno is only in the text."""
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list):
        for _src, dst, text in exc.args[0]:
            m = re.search(r"\[Errno (\d+)\] ([^:]+)", str(text))
            if m and int(m.group(1)) in _STORAGE_ERRORS:
                return f"{m.group(2)} writing {dst}"
        return None
    if exc.errno not in _STORAGE_ERRORS:
        return None
    return exc.strerror + (f" writing {exc.filename}" if exc.filename else "")


def _crash_log(exc: BaseException) -> Path:
    """Write the traceback under the repository's .git/sia/logs/ (or the temp folder when the
    command did not run in a repository); return the file."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    text = f"sia-git {' '.join(sys.argv[1:])}\n\n" + "".join(
        traceback.format_exception(type(exc), exc, exc.__traceback__)
    )
    for folder in (_repo_logs(), Path(os.environ.get("TMPDIR", "/tmp"))):  # noqa: S108
        if folder is None:
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"sia-git-crash-{stamp}-{os.getpid()}.log"
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return Path("(nowhere: no writable folder)")


def _repo_logs() -> Path | None:
    args = sys.argv[1:]
    where = "."
    for i, arg in enumerate(args):  # the command's -C/--repo, when it names one
        if arg in ("-C", "--repo") and i + 1 < len(args):
            where = args[i + 1]
        elif arg.startswith("--repo="):
            where = arg.split("=", 1)[1]
    try:
        done = subprocess.run(
            [
                "git",
                "-c",
                "core.hooksPath=/dev/null",
                "rev-parse",
                "--path-format=absolute",
                "--git-common-dir",
            ],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(done.stdout.strip()) / "sia" / "logs" if done.returncode == 0 else None
