"""The target-model gateway: an agent in the sandbox gets model answers through it, has no other
network, never sees the key, and every call lands in the stored trace (gates off here: the
agent tries a socket on purpose, to show the sandbox blocks it). The model provider is
tests/fakellm.py, a scripted OpenAI-compatible server on 127.0.0.1, reached by real litellm."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from sia_git.evolve.candidates import try_candidate
from sia_git.evolve.environment import Attempt, RunEnvironment
from sia_git.llm.budget import Budget
from sia_git.llm.client import ModelClient
from sia_git.llm.profiles import ModelProfile
from sia_git.sandbox import Limits, RunSpec, Sandbox, choose_backend
from sia_git.task import resolve
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
    from sia_git.gateway.server import Gateway

    with FakeLLM(lambda body, n: text("ok")) as llm:
        profile = ModelProfile(model="openai/gpt-4o-mini", api_base=llm.api_base, max_tokens=1000)
        budget = Budget(0.00063)  # one call's worst case (~$0.0006) fits; with it spent, not two
        with Gateway(ModelClient(profile, budget), tmp_path / "log.jsonl") as gw:
            first = gw.handle({"messages": [{"role": "user", "content": "a"}]})
            second = gw.handle({"messages": [{"role": "user", "content": "b"}]})
    assert first[0] == 200 and second[0] == 429
    assert "budget" in second[1]["error"]["message"] and budget.exhausted
    assert len(llm.requests) == 1
