"""Run inside the sandbox before the agent: listen on 127.0.0.1:<port> in the sandbox's own
network namespace and relay every connection to the gateway's Unix socket, so SDKs that speak
HTTP to a base URL (openai, anthropic) reach the run's model with no network; then become the
agent. Standard library only: its source is handed to `python -S -c`.

    python -S -c RELAY <port> <socket> <agent argv...>

One thread serves every connection (a selectors loop): the relay shares the agent's process
limit, and a thread per connection let an agent with many calls at once kill it. Each direction
buffers at most HIGH bytes, so a client that sends faster than the gateway reads is slowed, not
stored.
"""

import errno
import os
import selectors
import socket
import sys

CHUNK = 65536
HIGH = 4 * CHUNK
CONNECT_S = 5.0


class _Link:
    """A client connection and its gateway connection; `bufs[s]` waits to be sent to `s`."""

    def __init__(self, client, upstream):
        self.socks = (client, upstream)
        self.bufs = {client: bytearray(), upstream: bytearray()}
        self.ended = False  # one side closed: flush what is buffered, then close both
        self.closed = False

    def other(self, sock):
        return self.socks[1] if sock is self.socks[0] else self.socks[0]

    def events(self, sock):
        """What to wait for on `sock`: to read while its peer's buffer has room, to write
        while its own buffer has data."""
        want = 0
        if not self.ended and len(self.bufs[self.other(sock)]) < HIGH:
            want |= selectors.EVENT_READ
        if self.bufs[sock]:
            want |= selectors.EVENT_WRITE
        return want


class Relay:
    def __init__(self, listener, path):
        self.listener, self.path = listener, path
        self.sel = selectors.DefaultSelector()
        self.links = {}  # socket -> _Link
        listener.setblocking(False)
        self.sel.register(listener, selectors.EVENT_READ)
        self.accepting = True

    def serve(self):
        while True:
            paused = not self.accepting
            # Out of descriptors: accepting is tried again after the next event or a second.
            for key, mask in self.sel.select(1.0 if paused else None):
                if key.fileobj is self.listener:
                    self.accept()
                elif key.fileobj in self.links:
                    self.step(key.fileobj, mask)
            if paused:
                self.resume()

    def accept(self):
        try:
            client, _ = self.listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                self.pause()
            return
        try:
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        except OSError:
            client.close()
            self.pause()
            return
        try:
            upstream.settimeout(CONNECT_S)  # a local socket: connecting is immediate or fails
            upstream.connect(self.path)
        except OSError:
            for s in (client, upstream):
                s.close()
            return
        link = _Link(client, upstream)
        for s in link.socks:
            s.setblocking(False)
            self.links[s] = link
            self.sel.register(s, selectors.EVENT_READ)

    def pause(self):
        if self.accepting:
            self.sel.unregister(self.listener)
            self.accepting = False

    def resume(self):
        if not self.accepting:
            self.sel.register(self.listener, selectors.EVENT_READ)
            self.accepting = True

    def step(self, sock, mask):
        link = self.links[sock]
        try:
            if mask & selectors.EVENT_READ:
                self.read(link, sock)
            if mask & selectors.EVENT_WRITE:
                self.write(link, sock)
            if link.ended and not any(link.bufs.values()):
                self.close(link)
            else:
                self.update(link)
        except Exception:  # reset, broken pipe, ...: this exchange is over, the others go on
            self.close(link)

    def read(self, link, sock):
        try:
            data = sock.recv(CHUNK)
        except BlockingIOError:
            return
        if not data:
            link.ended = True
            return
        peer = link.other(sock)
        link.bufs[peer] += data
        self.write(link, peer)  # most of the time it goes at once

    def write(self, link, sock):
        buf = link.bufs[sock]
        if buf:
            try:
                sent = sock.send(buf)
            except BlockingIOError:
                return
            del buf[:sent]

    def update(self, link):
        for s in link.socks:
            want = link.events(s)
            registered = self.sel.get_map().get(s)
            if want and registered is None:
                self.sel.register(s, want)
            elif want and registered.events != want:
                self.sel.modify(s, want)
            elif not want and registered is not None:
                self.sel.unregister(s)

    def close(self, link):
        if link.closed:
            return
        link.closed = True
        for s in link.socks:
            self.links.pop(s, None)
            if self.sel.get_map().get(s) is not None:
                self.sel.unregister(s)
            s.close()


def main():
    port, path, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    try:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
    except OSError as exc:
        print(f"sia-git: the model endpoint could not start ({exc})", file=sys.stderr)
        os.execv(argv[0], argv)
    if os.fork() == 0:  # the relay: dies with the sandbox when the agent ends
        try:
            Relay(listener, path).serve()
        finally:
            os._exit(0)
    listener.close()
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()
