"""The built-in gates for many candidates at once, in this process: candidates that reach the
gates together are scanned together, one tool run per gate (one ruff process, one semgrep
process, bandit and the secret scan in-process) for all their files. A candidate arriving while
a scan runs joins the next one, so gating never waits for a generation's slowest proposal: a
pipeline, not phases. A candidate the cache answers whole (a knob candidate after the first of
its agent's, through its stand-in) neither waits nor scans. Results are per candidate, exactly
as a scan of its files alone gives (tests/test_gate_batch.py compares them with pre-commit's)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sia_git.gates import Cache, GateResult, Options, Scanned, from_cache, scan, verdict
from sia_git.gates.runners import Runner, all_runners

GATHER_S = 0.03  # candidates proposed together reach the gates within this of each other


@dataclass
class _Request:
    files: dict[str, Path]  # the name findings show (sia-agent/agent/x.py) -> the file to scan
    stand_ins: dict[Path, Path]  # a file -> the one the gates read in its place (gates.scan)
    result: list[GateResult] | None = None


class GateBatcher:
    """One per run: `check` blocks until its candidate's files are scanned. The first caller
    to find no scan running leads the next one, for everyone waiting by then."""

    def __init__(
        self,
        opts: Options,
        cache: Cache,
        runners: Sequence[Runner] | None = None,
        *,
        gather_s: float = GATHER_S,
    ) -> None:
        self.opts, self.cache, self.gather_s = opts, cache, gather_s
        self.runners = runners if runners is not None else all_runners()
        self._cond = threading.Condition()
        self._queue: list[_Request] = []
        self._busy = False
        self.scans = 0  # tool runs per gate so far (a bench and the tests read it)
        self._cache_keys: dict[str, str] | None = None

    def check(
        self, files: dict[str, Path], stand_ins: dict[Path, Path] | None = None
    ) -> list[GateResult]:
        req = _Request(files, stand_ins or {})
        with self._cond:
            self._queue.append(req)
            while self._busy and req.result is None:
                self._cond.wait()  # the scan in progress ends: ours was in it, or we lead next
            if req.result is not None:
                return req.result
            self._busy = True
        try:
            time.sleep(self.gather_s)
            with self._cond:
                batch, self._queue = self._queue, []
            self._scan(batch)
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
        assert req.result is not None
        return req.result

    def known(self, contents: dict[str, bytes]) -> list[GateResult] | None:
        """The results for files with these contents (by the names findings show), when the
        cache answers them whole: no scan, no batch to wait for, no file written."""
        found = from_cache(contents, self.opts, self.cache, runners=self.runners, keys=self._keys())
        return None if found is None else [verdict(n, s, self.opts) for n, s in found.items()]

    def _keys(self) -> dict[str, str] | None:
        """Each gate's cache key, read once per run (its rules and version do not change in a
        run); None when one cannot be read (the scan then says why)."""
        if self._cache_keys is None:
            try:
                self._cache_keys = {r.name: r.key(self.opts) for r in self.runners}
            except OSError:
                return None
        return self._cache_keys

    def _scan(self, batch: list[_Request]) -> None:
        if not batch:
            return
        try:
            paths = [p for req in batch for p in req.files.values()]
            stand_ins = {k: v for req in batch for k, v in req.stand_ins.items()}
            found = scan(paths, self.opts, self.cache, runners=self.runners, stand_ins=stand_ins)
            self.scans += 1
            if len(batch) > 1 and any(s.error for s in found.values()):
                # A file that stops a tool must fail only its own candidate: each alone.
                for req in batch:
                    alone = scan(
                        list(req.files.values()),
                        self.opts,
                        self.cache,
                        runners=self.runners,
                        stand_ins=req.stand_ins,
                    )
                    self._finish(req, alone)
                return
            for req in batch:
                self._finish(req, found)
        except Exception as exc:  # never leave a waiting candidate hanging
            for req in batch:
                if req.result is None:
                    req.result = [GateResult("gates", False, f"the gates could not run: {exc}")]

    def _finish(self, req: _Request, found: dict[str, Scanned]) -> None:
        """The candidate's share of a scan, under the names its findings show."""
        results = []
        for name, s in found.items():
            mine = Scanned(
                {shown: s.findings.get(str(p), []) for shown, p in req.files.items()},
                {shown for shown, p in req.files.items() if str(p) in s.cached},
                s.error,
            )
            results.append(verdict(name, mine, self.opts))
        req.result = results
