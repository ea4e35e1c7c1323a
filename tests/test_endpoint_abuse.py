"""`sia-git serve`'s endpoint (localmodel/server.py) as a server anyone on the machine may
abuse: a body of any size or shape must not grow its memory, idle connections must not hold
threads, and a malformed request is a line in `--log`, never a traceback on the terminal. A
scripted engine stands in for the model (no torch): these are the HTTP side's bounds. The
gateway's own checks are in test_gateway.py."""

from __future__ import annotations

import dataclasses
import json
import queue
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sia_git.localmodel import server as local
from sia_git.localmodel.engine import Request
from sia_git.localmodel.server import LocalServer
from tests import abuse

CHAT = "/v1/chat/completions"


class FakeEngine:
    """Answers each request "ok" after `delay_s` on one worker thread, as the engine does;
    a prompt "boom" makes `submit` raise, "fail" makes generation fail."""

    context = 4096

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.queue: queue.Queue[Request] = queue.Queue()
        threading.Thread(target=self._serve, daemon=True).start()

    def has_adapter(self, name: str) -> bool:
        return False

    def prompt_ids(self, messages: list[dict[str, Any]]) -> list[int]:
        return [0] * sum(len(str(m["content"])) for m in messages)

    def submit(self, r: Request) -> Request:
        if r.messages[-1]["content"] == "boom":
            raise RuntimeError("boom\nfrom deep inside the engine")
        self.queue.put(r)
        return r

    def _serve(self) -> None:
        while True:
            r = self.queue.get()
            time.sleep(self.delay_s)
            if r.messages[-1]["content"] == "fail":
                r.error = RuntimeError("out of memory\nand more")
            else:
                r.text, r.prompt_tokens, r.completion_tokens = "ok", 3, 1
                if r.on_text is not None:
                    r.on_text("ok")
            r.done.set()


def ask(text: str = "hi", **more: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **more}


def connect(server: LocalServer) -> abuse.Connect:
    host, port = server.url.removeprefix("http://").removesuffix("/v1").split(":")
    return abuse.tcp(host, int(port))


@pytest.mark.parametrize("chunked", [False, True], ids=["length-minus-one", "chunked"])
def test_a_400_mb_body_is_refused_early_and_memory_stays_flat(
    tmp_path: Path, chunked: bool
) -> None:
    with LocalServer(FakeEngine(), "fake", log=tmp_path / "serve.jsonl") as server:
        abuse.peak_reset()
        before = abuse.status_kb("VmRSS")
        sent = abuse.flood(connect(server), CHAT, chunked)
        grown_mb = (abuse.status_kb("VmHWM") - before) / 1024
        assert sent.status == 413 or (sent.status is None and sent.sent < 50 * abuse.MB), sent
        assert sent.sent < 50 * abuse.MB, sent
        assert grown_mb < 50, grown_mb
        assert abuse.post(connect(server), CHAT, ask())[0] == 200  # still serving
    [refused] = [json.loads(x) for x in (tmp_path / "serve.jsonl").read_text().splitlines()
                 if "refused" in x]  # fmt: skip
    assert refused["status"] == 413


def test_500_idle_connections_take_no_threads_and_are_closed_when_idle() -> None:
    abuse.raise_open_files()
    bounds = dataclasses.replace(local.BOUNDS, idle_s=1.0)
    with LocalServer(FakeEngine(), "fake", bounds=bounds) as server:
        abuse.post(connect(server), CHAT, ask())  # the preparing pool has started a thread
        before = abuse.threads()
        held = abuse.idle(connect(server), 500)
        time.sleep(0.5)
        during = abuse.threads()
        time.sleep(2.5)
        closed = abuse.closed_by_server(held)
        for s in held:
            s.close()
        assert abuse.post(connect(server), CHAT, ask())[0] == 200
    assert len(held) == 500 and during - before <= 1, (before, during)
    assert closed == 500


def test_over_the_connection_cap_a_caller_is_told_503() -> None:
    bounds = dataclasses.replace(local.BOUNDS, max_connections=8)
    with LocalServer(FakeEngine(), "fake", bounds=bounds) as server:
        held = abuse.idle(connect(server), 8)
        time.sleep(0.2)
        status, body = abuse.post(connect(server), CHAT, ask())
        for s in held:
            s.close()
        time.sleep(0.2)
        again = abuse.post(connect(server), CHAT, ask())[0]
    assert status == 503 and "too many connections" in body["error"]["message"]
    assert again == 200


def test_malformed_requests_print_nothing_and_are_one_line_each_in_the_log(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "serve.jsonl"
    with LocalServer(FakeEngine(), "fake", log=log) as server:
        replies = [abuse.exchange(connect(server), raw) for raw in abuse.malformed(CHAT)]
        boom = abuse.post(connect(server), CHAT, ask("boom"))
        fail = abuse.post(connect(server), CHAT, ask("fail"))
        hot = abuse.post(connect(server), CHAT, ask(temperature="hot"))
        assert abuse.post(connect(server), CHAT, ask())[0] == 200
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    statuses = [int(r.split()[1]) for r in replies]
    assert all(s < 500 for s in statuses), statuses  # refused (4xx) or served, never a crash
    assert boom[0] == 500 and "internal error" in boom[1]["error"]["message"]
    assert fail[0] == 500 and fail[1]["error"]["message"] == (
        "generation failed: RuntimeError: out of memory"
    )
    assert hot[0] == 400 and "temperature" in hot[1]["error"]["message"]
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    refused = [s for s in statuses if s >= 400]
    assert len([e for e in lines if "refused" in e]) == len(refused) + 2  # + boom and hot
    assert any("RuntimeError: boom" in e["refused"] for e in lines if "refused" in e)


def test_a_streamed_reply_and_a_caller_that_leaves_mid_request(tmp_path: Path) -> None:
    """Streaming still works on the new HTTP side, and a caller that hangs up is noticed."""
    engine = FakeEngine(delay_s=1.5)
    log = tmp_path / "serve.jsonl"
    with LocalServer(engine, "fake", log=log) as server:
        s = connect(server)()
        payload = json.dumps(ask(stream=True)).encode()
        s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                  % (CHAT.encode(), len(payload), payload))  # fmt: skip
        streamed = b""
        while piece := s.recv(65536):
            streamed += piece
        s.close()
        leaver = connect(server)()
        payload = json.dumps(ask("long")).encode()
        leaver.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                       % (CHAT.encode(), len(payload), payload))  # fmt: skip
        time.sleep(0.2)
        leaver.close()
        time.sleep(2.0)
    assert b'"content": "ok"' in streamed and b"data: [DONE]" in streamed
    calls = [json.loads(x) for x in log.read_text().splitlines() if '"call"' in x]
    assert [c["caller_left"] for c in calls] == [False, True]
