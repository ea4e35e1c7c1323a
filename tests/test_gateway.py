"""The target-model gateway: an agent in the sandbox gets model answers through it, has no other
network, never sees the key, and every call lands in the stored trace (gates off here: the
agent tries a socket on purpose, to show the sandbox blocks it). The model provider is
tests/fakellm.py, a scripted OpenAI-compatible server on 127.0.0.1, reached by real litellm."""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sia_git.evolve.candidates import try_candidate
from sia_git.evolve.environment import Attempt, RunEnvironment
from sia_git.gateway import server
from sia_git.gateway.server import Gateway
from sia_git.llm.budget import Budget
from sia_git.llm.client import ChatReply, ModelClient
from sia_git.llm.profiles import ModelProfile
from sia_git.sandbox import Limits, RunSpec, Sandbox, choose_backend
from sia_git.tasks.manifest import AgentSpec
from sia_git.tasks.task import resolve
from tests import abuse
from tests.fakellm import FakeLLM, error, text

TASK = resolve("penguins", None)
KEY = "sk-gateway-canary-0123456789abcdef"

AGENT = """
import json, os, socket, sys
import sia_gateway

wd = sys.argv[sys.argv.index("--working_dir") + 1]
out = {"available": sia_gateway.available()}
out["answers"] = [sia_gateway.chat(f"question {i}", max_tokens=32) for i in range(3)]
try:
    socket.create_connection(("127.0.0.1", @@PORT@@), timeout=2).close()
    out["tcp"] = "connected"
except OSError as exc:
    out["tcp"] = f"blocked: {exc}"
seen = json.dumps(dict(os.environ))
for root in ("/proc/self/environ", "/proc/1/environ"):
    try:
        seen += open(root, "rb").read().decode(errors="replace")
    except OSError:
        pass
out["key_seen"] = "@@KEY@@" in seen
try:
    sia_gateway.chat("one call too many")
except sia_gateway.GatewayError as exc:
    out["refused"] = str(exc)
open(os.path.join(wd, "out.json"), "w").write(json.dumps(out))
"""


def backends() -> list[str]:
    return [b for b in ("bwrap", "unshare") if choose_backend(b)[0] == b]  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", backends())
def test_agent_uses_the_gateway_and_nothing_else(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIA_TEST_TARGET_KEY", KEY)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    reached: list[bool] = []
    listener.settimeout(8)
    threading.Thread(target=lambda: _accept(listener, reached), daemon=True).start()

    def script(body: dict, n: int) -> object:
        asked = body["messages"][-1]["content"]
        return error(500) if asked == "one call too many" else text(f"answer to {asked}")

    agent = tmp_path / "agent"
    agent.mkdir()
    source = AGENT.replace("@@PORT@@", str(port)).replace("@@KEY@@", KEY)
    with FakeLLM(script) as llm:
        profile = ModelProfile(
            model="openai/gpt-4o-mini",
            api_base=llm.api_base,
            api_key_env="SIA_TEST_TARGET_KEY",
            retries=0,
            max_tokens=64,
        )
        client = ModelClient(profile, Budget(None))
        env = RunEnvironment(
            TASK, Sandbox(backend, [], []), TASK.public_dir, Limits(timeout_s=60), target=client
        )
        out = try_candidate(
            env, Attempt(0, {"target_agent.py": source.encode()}, tmp_path / "c", 0)
        )
    listener.close()
    result = json.loads((tmp_path / "c" / "sandbox" / "work" / "out.json").read_text())
    assert result["available"] is True
    assert result["answers"] == [f"answer to question {i}" for i in range(3)]
    assert result["tcp"].startswith("blocked") and not reached
    assert result["key_seen"] is False
    assert "gateway:" in result["refused"] and "HTTP 500" in result["refused"]
    # The provider got the key from the gateway, outside the sandbox.
    auth = {k.lower(): v for k, v in llm.headers[0].items()}["authorization"]
    assert auth == f"Bearer {KEY}"
    # Every call is in the trace, the failed one included, with its cost.
    log = [json.loads(line) for line in out.traces["gateway.jsonl"].decode().splitlines()]
    assert [e["status"] for e in log] == [200, 200, 200, 502]
    assert "question 1" in log[1]["request"]["messages"]
    assert log[1]["reply"] == "answer to question 1"
    assert out.gateway_calls == 4
    assert out.cost_usd == pytest.approx(sum(e.get("cost_usd", 0) for e in log)) and out.cost_usd
    assert KEY not in out.traces["gateway.jsonl"].decode()


def _accept(listener: socket.socket, reached: list[bool]) -> None:
    try:
        conn, _ = listener.accept()
        reached.append(True)
        conn.close()
    except OSError:
        pass


def test_without_a_target_model_the_helper_says_so(tmp_path: Path) -> None:
    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / "target_agent.py").write_text(
        "import os, sys, sia_gateway\n"
        "wd = sys.argv[sys.argv.index('--working_dir') + 1]\n"
        "try:\n    sia_gateway.chat('hi')\nexcept sia_gateway.GatewayError as e:\n"
        "    open(os.path.join(wd, 'err.txt'), 'w').write(str(e))\n"
    )
    result = Sandbox("bwrap", [], []).run(
        RunSpec(agent, TASK.public_dir, tmp_path / "s", Limits(timeout_s=30))
    )
    assert result.ok, result.stderr_tail
    assert "no --target-model" in (tmp_path / "s" / "work" / "err.txt").read_text()


def test_gateway_refuses_calls_once_the_budget_is_spent(tmp_path: Path) -> None:
    with FakeLLM(lambda body, n: text("ok")) as llm:
        profile = ModelProfile(model="openai/gpt-4o-mini", api_base=llm.api_base, max_tokens=1000)
        budget = Budget(0.00063)  # one call's worst case (~$0.0006) fits; with it spent, not two
        with Gateway(ModelClient(profile, budget), tmp_path / "log.jsonl") as gw:
            first = gw.handle({"messages": [{"role": "user", "content": "a"}]})
            second = gw.handle({"messages": [{"role": "user", "content": "b"}]})
    assert first[0] == 200 and second[0] == 429
    assert "budget" in second[1]["error"]["message"] and budget.exhausted
    assert len(llm.requests) == 1


# -- the gateway as a server an agent may abuse (issue 26) ---------------------------------------
# The agent is not trusted: what it sends to the gateway must not grow sia-git's memory (outside
# every cgroup), hold its threads, print on the user's terminal, lose a call from the log, or
# fetch a URL from outside the sandbox. A scripted client stands in for the model.


PRICED = ModelProfile(
    model="openai/fake", max_tokens=64, input_cost_per_token=1e-6, output_cost_per_token=2e-6
)
CHAT = "/v1/chat/completions"


class FakeClient:
    """A model client that answers after `delay_s`, at `cost_usd` a call ("boom" raises)."""

    def __init__(self, delay_s: float = 0.0, cost_usd: float = 0.001) -> None:
        self.profile, self.delay_s, self.cost_usd = PRICED, delay_s, cost_usd
        self.started = 0
        self.lock = threading.Lock()

    def chat(self, messages: list, tools: object = None, max_tokens: object = None,
             temperature: object = None) -> ChatReply:  # fmt: skip
        with self.lock:
            self.started += 1
        time.sleep(self.delay_s)
        if messages[-1].get("content") == "boom":
            raise RuntimeError("boom\nfrom deep inside the client")
        return ChatReply("ok", [], "stop", 10, 5, self.cost_usd)


def ask(text: str = "hi") -> dict:
    return {"messages": [{"role": "user", "content": text}]}


def entries(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.mark.parametrize("chunked", [False, True], ids=["length-minus-one", "chunked"])
def test_a_400_mb_body_is_refused_early_and_memory_stays_flat(
    tmp_path: Path, chunked: bool
) -> None:
    with Gateway(FakeClient(), tmp_path / "gw.jsonl") as gw:
        abuse.peak_reset()
        before = abuse.status_kb("VmRSS")
        sent = abuse.flood(abuse.unix(gw.socket), CHAT, chunked)
        grown_mb = (abuse.status_kb("VmHWM") - before) / 1024
        # Refused: a 413 read back, or the connection closed long before the 400 MB went.
        assert sent.status == 413 or (sent.status is None and sent.sent < 50 * abuse.MB), sent
        assert sent.sent < 50 * abuse.MB, sent
        assert grown_mb < 50, grown_mb
        assert abuse.post(abuse.unix(gw.socket), CHAT, ask())[0] == 200  # still serving
    [refused] = [e for e in entries(tmp_path / "gw.jsonl") if "refused" in e]
    assert refused["status"] == 413


def test_500_idle_connections_take_no_threads_and_are_closed_when_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "BOUNDS", dataclasses.replace(server.BOUNDS, idle_s=1.0))
    abuse.raise_open_files()
    with Gateway(FakeClient(), tmp_path / "gw.jsonl") as gw:
        abuse.post(abuse.unix(gw.socket), CHAT, ask())  # the call pool has started a thread
        before = abuse.threads()
        held = abuse.idle(abuse.unix(gw.socket), 500)
        time.sleep(0.5)
        during = abuse.threads()
        time.sleep(2.5)  # past idle_s: the gateway closed every one of them
        closed = abuse.closed_by_server(held)
        for s in held:
            s.close()
        assert abuse.post(abuse.unix(gw.socket), CHAT, ask())[0] == 200
    assert len(held) == 500 and during - before <= 1, (before, during)
    assert closed == 500


def test_calls_in_flight_when_the_run_ends_are_logged_and_charged(tmp_path: Path) -> None:
    """The agent sends six calls and exits (its connections close) while the model is still
    answering: the gateway's exit waits for them (within drain_s), and each is in the log
    with its status and cost."""
    client = FakeClient(delay_s=1.0, cost_usd=0.01)
    log = tmp_path / "gw.jsonl"
    with Gateway(client, log, drain_s=10) as gw:
        for _ in range(6):
            with abuse.unix(gw.socket)() as s:
                s.sendall(abuse.request(CHAT, ask()))
        _until(lambda: client.started == 6)
    done = entries(log)
    assert [e["status"] for e in done] == [200] * 6
    assert gw.calls == 6 and gw.cost_usd == pytest.approx(0.06)


def test_calls_cut_off_by_the_run_end_are_logged_cancelled_with_their_cost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Past drain_s, a call the model is still answering is charged its worst case (the
    budget settles the real cost later) and one still queued is logged as never sent."""
    monkeypatch.setattr(server, "MAX_CONCURRENT_CALLS", 2)
    client = FakeClient(delay_s=3.0, cost_usd=0.01)
    log = tmp_path / "gw.jsonl"
    with Gateway(client, log, drain_s=0.3) as gw:
        calls = [lambda: abuse.post(abuse.unix(gw.socket), CHAT, ask()) for _ in range(4)]
        threading.Thread(target=abuse.run_all, args=(calls,), daemon=True).start()
        _until(lambda: client.started == 2 and gw.calls == 4)
    done = entries(log)
    assert sorted(e["call"] for e in done) == [1, 2, 3, 4]
    assert {e["status"] for e in done} == {"cancelled"}
    sent = [e for e in done if "cost_is" in e]
    assert len(sent) == 2 and all(e["cost_usd"] >= 64 * 2e-6 for e in sent)
    assert all(e["cost_usd"] == 0 for e in done if e not in sent)
    assert gw.cost_usd == pytest.approx(sum(e["cost_usd"] for e in done)) and gw.cost_usd > 0
    time.sleep(3)  # the cut-off calls end on their threads: nothing more is logged or charged
    assert len(entries(log)) == 4 and gw.cost_usd == pytest.approx(sum(e["cost_usd"] for e in done))
    assert capfd.readouterr() == ("", "")


def test_malformed_requests_print_nothing_and_are_one_line_each_in_the_log(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "gw.jsonl"
    with Gateway(FakeClient(), log) as gw:
        connect = abuse.unix(gw.socket)
        replies = [abuse.exchange(connect, raw) for raw in abuse.malformed(CHAT)]
        boom = abuse.post(connect, CHAT, ask("boom"))
        abuse.exchange(connect, b"POST /v1/messages HTTP/1.1\r\nContent-Length: 3\r\n\r\n[1]")
        assert abuse.post(connect, CHAT, ask())[0] == 200
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert all(r.startswith(b"HTTP/1.") for r in replies), replies
    statuses = [int(r.split()[1]) for r in replies]
    assert all(s < 500 for s in statuses), statuses  # refused (4xx) or served, never a crash
    assert boom[0] == 500 and "boom" in boom[1]["error"]["message"]
    lines = log.read_text().splitlines()
    assert len(lines) == len(replies) + 3  # each refusal or call is one line
    crashed = [e for e in map(json.loads, lines) if e.get("status") == 500]
    assert [e["error"] for e in crashed] == ["gateway: RuntimeError: boom"]


def test_the_relay_serves_48_calls_at_once_on_one_thread(tmp_path: Path) -> None:
    """relay.py as the sandbox runs it (`python -S -c`), in a pids cgroup that allows it no
    second thread (the agent's process cap: 48 calls at once used to need 96 threads and
    killed the relay), in front of a gateway whose model takes 0.3 s a call."""
    from sia_git.sandbox.cgroups import RunCgroup

    group = RunCgroup(max_procs=2)  # the "agent" (sleep) and the relay, nothing more
    # Without a pids cgroup (a machine that offers none) the thread count is still checked.
    port = _free_port()
    client = FakeClient(delay_s=0.3)
    join = ",".join(group.procs_files)
    launcher = (
        "import os, sys\n"
        f"for p in filter(None, {join!r}.split(',')):\n    open(p, 'w').write(str(os.getpid()))\n"
        "os.execv(sys.executable, [sys.executable, '-S', '-c', *sys.argv[1:]])\n"
    )
    with Gateway(client, tmp_path / "gw.jsonl") as gw:
        agent = subprocess.Popen([sys.executable, "-c", launcher, server.RELAY,
                                  f"{port}={gw.socket}", "-", "/bin/sleep", "60"])  # fmt: skip
        try:
            relay = _relay_of(agent.pid, port)
            calls = [lambda i=i: _http(port, i) for i in range(48)]
            sampled: list[int] = []
            sampler = threading.Thread(target=_sample, args=(relay, sampled, 48, client))
            sampler.start()
            statuses = abuse.run_all(calls)
            sampler.join()
            after = _http(port, 99)
            flood = abuse.flood(abuse.tcp("127.0.0.1", port), CHAT, chunked=True)
            relay_mb = abuse.status_kb("VmHWM", relay) / 1024
            last = _http(port, 100)
        finally:
            group.kill_all()
            group.remove()
            agent.wait(10)
    assert statuses == [200] * 48, statuses
    assert after == 200 and sampled and set(sampled) == {1}, sampled
    # 400 MB through the relay: refused by the gateway, never held by the relay.
    assert flood.sent < 50 * abuse.MB and relay_mb < 50 and last == 200, (flood, relay_mb)


def test_url_content_parts_are_refused_unless_the_task_allows_them(tmp_path: Path) -> None:
    image = {"type": "image_url", "image_url": {"url": "https://example.invalid/x.png"}}
    inline = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    doc = {"type": "document", "source": {"type": "url", "url": "https://example.invalid/a"}}
    file = {"type": "file", "file": {"file_id": "file-abc"}}

    def user(*parts: dict) -> dict:
        return {"messages": [{"role": "user", "content": [{"type": "text", "text": "?"}, *parts]}],
                "max_tokens": 16}  # fmt: skip

    client = FakeClient()
    with Gateway(client, tmp_path / "no.jsonl") as gw:
        connect = abuse.unix(gw.socket)
        refused = [abuse.post(connect, CHAT, user(image)), abuse.post(connect, CHAT, user(file)),
                   abuse.post(connect, "/v1/messages", user(doc))]  # fmt: skip
        fine = abuse.post(connect, CHAT, user(inline))
    assert [r[0] for r in refused] == [400, 400, 400] and fine[0] == 200
    message = refused[0][1]["error"]["message"]
    assert "image_url part with a URL" in message and "allow_content_urls" in message
    assert "document block whose source is a url" in refused[2][1]["error"]["message"]
    assert client.started == 1  # only the inline image reached the model
    with Gateway(client, tmp_path / "yes.jsonl", allow_content_urls=True) as gw:
        allowed = abuse.post(abuse.unix(gw.socket), CHAT, user(image))
    assert allowed[0] == 200


def test_the_task_key_allow_content_urls_defaults_to_false() -> None:
    assert AgentSpec().allow_content_urls is False
    assert AgentSpec.model_validate({"allow_content_urls": True}).allow_content_urls is True


def _until(done: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _relay_of(pid: int, port: int) -> str:
    """The relay's pid (the agent's forked child), once it listens."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        children = Path(f"/proc/{pid}/task/{pid}/children")
        kids = children.read_text().split() if children.exists() else []
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            if kids:
                return kids[0]
        time.sleep(0.05)
    raise AssertionError("the relay did not start")


def _http(port: int, i: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("POST", CHAT, json.dumps(ask(f"call {i}")),
                     {"Content-Type": "application/json"})  # fmt: skip
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _sample(relay: str, out: list[int], calls: int, client: FakeClient) -> None:
    """The relay's thread count, read while the calls are in flight."""
    deadline = time.monotonic() + 60
    while client.started < calls and time.monotonic() < deadline:
        with contextlib.suppress(OSError, KeyError):
            out.append(abuse.threads(relay))
        time.sleep(0.02)
