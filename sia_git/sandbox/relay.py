"""Run inside the sandbox before the agent: listen on 127.0.0.1:<port> in the sandbox's own
network namespace and relay every connection to the gateway's Unix socket, so SDKs that speak
HTTP to a base URL (openai, anthropic) reach the run's model with no network; then become the
agent. Standard library only: its source is handed to `python -S -c`.

    python -S -c RELAY <port>=<socket>[,<port>=<socket>...] <uid or -> <agent argv...>

Port 443 relays to the gateway's TLS socket (provider URLs the sandbox resolves to 127.0.0.1);
binding it takes a privilege, so when sia-git is root the relay binds first and only then
becomes the agent's uid (`<uid>`), which drops every capability. Where 443 cannot be bound the
relay says so in one line and the agent runs without it.

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
    def __init__(self, listeners):
        self.paths = dict(listeners)  # listening socket -> the gateway socket it relays to
        self.sel = selectors.DefaultSelector()
        self.links = {}  # socket -> _Link
        for listener in self.paths:
            listener.setblocking(False)
            self.sel.register(listener, selectors.EVENT_READ)
        self.accepting = True

    def serve(self):
        while True:
            paused = not self.accepting
            # Out of descriptors: accepting is tried again after the next event or a second.
            for key, mask in self.sel.select(1.0 if paused else None):
                if key.fileobj in self.paths:
                    self.accept(key.fileobj)
                elif key.fileobj in self.links:
                    self.step(key.fileobj, mask)
            if paused:
                self.resume()

    def accept(self, listener):
        try:
            client, _ = listener.accept()
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
            upstream.connect(self.paths[listener])
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
            for listener in self.paths:
                self.sel.unregister(listener)
            self.accepting = False

    def resume(self):
        if not self.accepting:
            for listener in self.paths:
                self.sel.register(listener, selectors.EVENT_READ)
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


def listen(port):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(128)
    return listener


def become(uid):
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)  # from root to another uid: every capability goes
    os.chdir("/sia/work")


def main():
    pairs, uid, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    listeners = []
    for pair in pairs.split(","):
        port, _, path = pair.partition("=")
        try:
            listeners.append((listen(int(port)), path))
        except OSError as exc:
            if int(port) == 443:
                print(
                    f"sia-git: provider URLs are not reachable in this sandbox (port 443: "
                    f"{exc.strerror}); SDKs reach the run's model through OPENAI_BASE_URL "
                    "and ANTHROPIC_BASE_URL",
                    file=sys.stderr,
                )
            else:
                print(f"sia-git: the model endpoint could not start ({exc})", file=sys.stderr)
    if uid != "-":
        become(int(uid))
    if listeners and os.fork() == 0:  # the relay: dies with the sandbox when the agent ends
        try:
            Relay(listeners).serve()
        finally:
            os._exit(0)
    for listener, _ in listeners:
        listener.close()
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()
