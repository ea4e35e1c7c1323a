"""Parse Python source into an AST, safely from many threads.

CPython 3.11 and 3.12 keep the AST constructor's recursion depth in per-interpreter state, and
when candidates are proposed in threads `ast.parse` can fail spuriously with "SystemError: AST
constructor recursion depth mismatch" (python/cpython#106905; seen here on 3.11.7 while a
Feedback-Agent's proposal was read). sia-git's own parses go through one lock, and the spurious
error, which another thread's parse can still cause, is retried once.
"""

from __future__ import annotations

import ast
import threading

_lock = threading.Lock()


def parse(source: str) -> ast.Module:
    with _lock:
        try:
            return ast.parse(source)
        except SystemError:
            return ast.parse(source)
