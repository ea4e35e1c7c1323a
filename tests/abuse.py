"""What an attacker-minded caller does to an endpoint (the gateway, `sia-git serve`), as test
helpers: a 400 MB body sent from a generator over a raw socket (the sender holds 1 MiB of it),
idle connections by the hundred, malformed requests; and the measures the tests read (this
process's peak memory and thread count)."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024
FLOOD = 400 * MB
BLOCK = b"x" * MB

Connect = Callable[[], socket.socket]


def unix(path: Path) -> Connect:
    def connect() -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(path))
        return s

    return connect


def tcp(host: str, port: int) -> Connect:
    return lambda: socket.create_connection((host, port))


def peak_reset() -> None:
    """Start the kernel's peak-memory mark (VmHWM) again from the current size."""
    Path("/proc/self/clear_refs").write_text("5")


def status_kb(field: str, pid: str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def threads(pid: str = "self") -> int:
    return status_kb("Threads", pid)


@dataclass
class Sent:
    status: int | None  # the reply's status, when one could be read
    sent: int  # body bytes the server took before it closed


def flood(connect: Connect, path: str, chunked: bool, total: int = FLOOD) -> Sent:
    """POST `total` bytes of body with `Content-Length: -1` or chunked; stop at the first
    error (the server closed early) and read whatever reply came."""
    s = connect()
    s.settimeout(20)
    length = "Transfer-Encoding: chunked" if chunked else "Content-Length: -1"
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n{length}\r\n\r\n".encode())
    sent = 0
    with contextlib.suppress(OSError):
        for piece in _body(total, chunked):
            s.sendall(piece)
            sent += len(piece)
    return Sent(_status(s), sent)


def _body(total: int, chunked: bool) -> Iterator[bytes]:
    for _ in range(total // MB):
        yield b"%x\r\n%s\r\n" % (MB, BLOCK) if chunked else BLOCK
    if chunked:
        yield b"0\r\n\r\n"


def _status(s: socket.socket) -> int | None:
    data = b""
    with contextlib.suppress(OSError):
        while b"\r\n" not in data and (piece := s.recv(4096)):
            data += piece
    s.close()
    head = data.split(b"\r\n", 1)[0].split()
    return int(head[1]) if len(head) > 1 and head[1].isdigit() else None


def exchange(connect: Connect, raw: bytes) -> bytes:
    """Send `raw` as it is and read one reply (to its Content-Length, or until the server
    closes or goes quiet)."""
    s = connect()
    s.settimeout(5)
    data = b""
    with contextlib.suppress(OSError):
        with contextlib.suppress(OSError):  # the server may close before taking it all
            s.sendall(raw)
        while not _whole(data) and (piece := s.recv(65536)):
            data += piece
    s.close()
    return data


def _whole(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if sep and name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def request(path: str, body: object) -> bytes:
    payload = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    ).encode() + payload


def post(connect: Connect, path: str, body: object) -> tuple[int, dict]:
    """One JSON POST; the reply's status and JSON body."""
    reply = exchange(connect, request(path, body))
    head, _, rest = reply.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head else 0
    return status, json.loads(rest) if rest.strip() else {}


def malformed(path: str) -> list[bytes]:
    """Requests no server should answer with a traceback."""
    ok = b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" % path.encode()

    def body(data: bytes) -> bytes:
        return ok + b"Content-Length: %d\r\n\r\n" % len(data) + data

    return [
        b"GARBAGE\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64),  # a TLS hello
        b"POST / HTTP/9.9\r\n\r\n",
        ok + b"Content-Length: abc\r\n\r\n{}",
        ok + b"Content-Length: 5\r\nContent-Length: 7\r\n\r\n{}",
        ok + b"No colon here\r\n\r\n",
        ok + b"X-Big: " + b"a" * 200_000 + b"\r\n\r\n",
        ok + b"".join(b"X-%d: 1\r\n" % i for i in range(500)) + b"\r\n",
        ok + b"\r\n",  # a POST with no length and no body
        body(b"{not json"),
        body(b"\xff\xfe\x00"),
        body(b"[1, 2, 3]"),
        body(b'"a string"'),
        body(b"[" * 100_000 + b"]" * 100_000),  # nested past the recursion limit
        body(b'{"messages": 5}'),
        body(b'{"messages": [5, "x", null]}'),
        body(b'{"messages": [{"role": "user", "content": {"a": 1}}], "max_tokens": "lots"}'),
        ok + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nbroken\r\n0\r\n\r\n",
    ]


def raise_open_files() -> None:
    """Room for hundreds of connections (both ends live in this process)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))


def idle(connect: Connect, n: int) -> list[socket.socket]:
    out = []
    for _ in range(n):
        with contextlib.suppress(OSError):
            out.append(connect())
    return out


def closed_by_server(sockets: list[socket.socket]) -> int:
    """How many of `sockets` the server has closed (a read does not block: EOF, a reset, or
    the 503 a connection over the cap gets before it is closed)."""
    gone = 0
    for s in sockets:
        s.setblocking(False)
        try:
            s.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            continue  # still open, nothing sent
        except OSError:
            pass
        gone += 1
    return gone


def run_all(fns: list[Callable[[], object]]) -> list[object]:
    """Call each function on its own thread at once; their results in order."""
    out: list[object] = [None] * len(fns)

    def one(i: int) -> None:
        try:
            out[i] = fns[i]()
        except Exception as exc:  # the test looks at it
            out[i] = exc

    workers = [threading.Thread(target=one, args=(i,)) for i in range(len(fns))]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    return out
