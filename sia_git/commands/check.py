"""`sia-git check FILE...`: the candidate gates on any files, with a readable report (or JSON).
It is also the entry of sia-git's pre-commit hook for people's commits (`hooks install`);
candidates are gated in the loop's process (gates/batch.py), with the same findings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from sia_git.core.errors import SiaError
from sia_git.core.redact import Redactor
from sia_git.gates import Cache, Options, run_gates
from sia_git.gates.cache import default_dir


def run(
    files: tuple[Path, ...], as_json: bool, forbid: tuple[str, ...], *, allow: tuple[str, ...] = ()
) -> int:
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise SiaError(f"no such file: {missing[0]}")
    if not files:
        raise SiaError("give the files to check, e.g. `sia-git check target_agent.py`")
    for f in files:
        try:
            f.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise SiaError(f"{f}: not a text file (the gates read Python source)") from None
    opts = Options(
        forbid_packages=tuple(dict.fromkeys(forbid)),
        secret_values=tuple(Redactor.from_env().secrets),
        allow_rules=tuple(dict.fromkeys(allow)),
    )
    cache_dir = os.environ.get("SIA_GATE_CACHE")  # the bench's: a cache per round
    cache = Cache(Path(cache_dir) if cache_dir else default_dir(Path.cwd()))
    results = run_gates(list(files), opts, cache)
    if as_json:
        click.echo(
            json.dumps(
                {"passed": all(r.passed for r in results), "gates": [r.to_json() for r in results]},
                indent=1,
            )
        )
    else:
        for r in results:
            click.echo(
                f"{r.name:8} {'pass' if r.passed else 'FAIL'}"
                + (f"  ({r.cached} cached)" if r.cached else "")
            )
            for line in r.report.splitlines():
                click.echo(f"    {line}")
    return 0 if all(r.passed for r in results) else 1
