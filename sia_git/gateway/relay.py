"""Run inside the sandbox before the agent: listen on 127.0.0.1:<port> in the sandbox's own
network namespace and relay every connection to the gateway's Unix socket, so SDKs that speak
HTTP to a base URL (openai, anthropic) reach the run's model with no network; then become the
agent. Standard library only: its source is handed to `python -S -c`.

    python -S -c RELAY <port> <socket> <agent argv...>
"""

import contextlib
import os
import socket
import sys
import threading


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def _serve(listener: socket.socket, path: str) -> None:
    while True:
        conn, _ = listener.accept()
        try:
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(path)
        except OSError:
            conn.close()
            continue
        for a, b in ((conn, upstream), (upstream, conn)):
            threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def main() -> None:
    port, path, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    try:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
    except OSError as exc:
        print(f"sia-git: the model endpoint could not start ({exc})", file=sys.stderr)
        os.execv(argv[0], argv)
    if os.fork() == 0:  # the relay: dies with the sandbox when the agent ends
        _serve(listener, path)
        os._exit(0)
    listener.close()
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()
