"""The one kind of error a user can cause, and how it reaches the terminal."""

from __future__ import annotations


class SiaError(Exception):
    """A problem the user can fix. Its message is one line naming the thing to fix."""

    exit_code = 2


class GateFailed(SiaError):
    """Code that fails its gates was asked to run: it is not run, and the report says why."""

    exit_code = 1


class RunLocked(SiaError):
    """Another process is evolving the same run."""

    exit_code = 3


class Interrupted(SiaError):
    """Ctrl-C: nothing is lost, and the message says how to resume."""

    exit_code = 130
