"""`sia-git serve MODEL`: a local model behind an OpenAI-compatible endpoint on this machine,
until interrupted. Useful as `--model`/`--target-model` for any tool that speaks OpenAI's API,
and to try a model before a run."""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import threading
from pathlib import Path

from sia_git.core.errors import SiaError


def run(
    model: str,
    host: str,
    port: int,
    *,
    adapters: tuple[str, ...],
    max_batch: int,
    threads: int | None,
    log: Path | None = None,
) -> None:
    from sia_git.localmodel.load import load, resolve
    from sia_git.localmodel.server import LocalServer

    named = [_adapter(a) for a in adapters]
    local = resolve(model, "MODEL")
    _can_listen(host, port)  # before the model load (tens of seconds), not after it

    def say(line: str) -> None:
        print(f"sia-git serve: {line}", file=sys.stderr, flush=True)

    engine = load(local, max_batch, threads, say=say)
    for name, folder in named:
        engine.add_adapter(name, folder)
    try:
        server = LocalServer(engine, local.name, host, port=port, log=log)
    except OSError as exc:
        raise SiaError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with server:
        print(
            f"serving {local.name} at {server.url} (context {engine.context} tokens, "
            f"loaded in {engine.load_s:.1f} s); Ctrl-C stops",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    s = engine.stats
    say(
        f"served {s.requests} request(s) in {s.batches} batch(es); {s.cancelled} cancelled "
        f"(their caller left); {s.finished_abandoned} finished after their caller left"
    )


def _can_listen(host: str, port: int) -> None:
    """Refuse a host or port this machine cannot listen on, with one line."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise SiaError(f"--host {host}: not an address this machine has ({exc})") from None
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(addr)
        except OSError as exc:
            raise SiaError(f"cannot listen on {host}:{port} ({exc.strerror})") from None


def _adapter(value: str) -> tuple[str, Path]:
    name, sep, folder = value.partition("=")
    path = Path(folder).expanduser()
    if not sep or not name or "@" in name or not (path / "adapter_config.json").is_file():
        raise SiaError(f"--adapter {value}: give NAME=FOLDER, a folder with adapter_config.json")
    return name, path.resolve()
