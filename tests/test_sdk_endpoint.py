"""Agents written for the standard SDKs run unchanged: `openai.OpenAI()` (sync, async,
streaming) and `anthropic.Anthropic()` with no arguments find the run's model at the endpoint
sia-git serves on 127.0.0.1 inside the sandbox's own network namespace, relayed to the gateway
outside. The target model is a scripted OpenAI-compatible server on 127.0.0.1 (tests/fakellm.py);
the agent sees no real key and reaches nothing else."""

from __future__ import annotations

import dataclasses
import json
import socket
from pathlib import Path

import pytest

from sia_git.evolve.candidates import try_candidate
from sia_git.evolve.environment import Attempt, RunEnvironment
from sia_git.llm.budget import Budget
from sia_git.llm.client import ModelClient
from sia_git.llm.profiles import ModelProfile
from sia_git.sandbox import Limits, Sandbox, choose_backend
from sia_git.tasks.task import resolve
from tests.fakellm import FakeLLM, text

TASK = resolve("penguins", None)
KEY = "sk-sdk-canary-0123456789abcdef"

AGENT = """
import asyncio, json, os, socket, sys
import anthropic, openai

wd = sys.argv[sys.argv.index("--working_dir") + 1]
out = {}
client = openai.OpenAI()
ask = lambda q: [{"role": "user", "content": q}]
out["sync"] = client.chat.completions.create(model="gpt-4o", messages=ask("sync")).choices[
    0].message.content


async def run_async():
    reply = await openai.AsyncOpenAI().chat.completions.create(model="any", messages=ask("async"))
    return reply.choices[0].message.content


out["async"] = asyncio.run(run_async())
chunks = client.chat.completions.create(model="any", messages=ask("stream"), stream=True)
out["stream"] = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
claude = anthropic.Anthropic()
msg = claude.messages.create(model="claude-any", max_tokens=64, messages=ask("claude"))
out["anthropic"] = msg.content[0].text
with claude.messages.stream(model="claude-any", max_tokens=64, messages=ask("claude stream")) as s:
    out["anthropic_stream"] = s.get_final_text()
out["key"] = os.environ["OPENAI_API_KEY"]
out["tinker"] = os.environ.get("TINKER_API_KEY")
out["key_seen"] = "@@KEY@@" in json.dumps(dict(os.environ))
try:
    socket.create_connection(("127.0.0.1", @@PORT@@), timeout=2).close()
    out["tcp"] = "connected"
except OSError as exc:
    out["tcp"] = f"blocked: {exc}"
open(os.path.join(wd, "out.json"), "w").write(json.dumps(out))
"""


def backends() -> list[str]:
    return [b for b in ("bwrap", "unshare") if choose_backend(b)[0] == b]


@pytest.mark.parametrize("backend", backends())
def test_openai_and_anthropic_sdks_reach_the_run_model_unchanged(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("anthropic", reason="the test extra installs the anthropic SDK")
    monkeypatch.setenv("SIA_TEST_TARGET_KEY", KEY)
    outside = socket.create_server(("127.0.0.1", 0))  # a host listener the agent must not reach
    agent_src = AGENT.replace("@@KEY@@", KEY).replace("@@PORT@@", str(outside.getsockname()[1]))

    def script(body: dict, n: int) -> object:
        return text(f"answer to {body['messages'][-1]['content']}")

    with FakeLLM(script) as llm:
        profile = ModelProfile(
            model="openai/gpt-4o-mini",
            api_base=llm.api_base,
            api_key_env="SIA_TEST_TARGET_KEY",
            retries=0,
            max_tokens=64,
        )
        client = ModelClient(profile, Budget(None))
        sandbox = Sandbox(backend, ["openai", "anthropic"], [])
        # The task names one more variable an SDK reads its key from.
        agent_spec = TASK.manifest.agent.model_copy(update={"model_env": ["TINKER_API_KEY"]})
        task = dataclasses.replace(
            TASK, manifest=TASK.manifest.model_copy(update={"agent": agent_spec})
        )
        env = RunEnvironment(task, sandbox, TASK.public_dir, Limits(timeout_s=90), target=client)
        out = try_candidate(env, Attempt(0, {"target_agent.py": agent_src.encode()},
                                         tmp_path / "c", 0))  # fmt: skip
    outside.close()
    assert out.run is not None and out.run.ok, out.run.stderr_tail if out.run else out.reason
    result = json.loads((tmp_path / "c" / "sandbox" / "work" / "out.json").read_text())
    assert result["sync"] == "answer to sync"
    assert result["async"] == "answer to async"
    assert result["stream"] == "answer to stream"
    assert result["anthropic"] == "answer to claude"
    assert result["anthropic_stream"] == "answer to claude stream"
    assert result["key"] == "sia-gateway" and result["key_seen"] is False
    assert result["tinker"] == "sia-gateway"
    assert result["tcp"].startswith("blocked")
    log = [json.loads(line) for line in out.traces["gateway.jsonl"].decode().splitlines()]
    assert [e["api"] for e in log] == ["openai"] * 3 + ["anthropic"] * 2
    assert [e["requested_model"] for e in log] == ["gpt-4o", "any", "any", "claude-any",
                                                   "claude-any"]  # fmt: skip
    assert all(e["status"] == 200 and e["cost_usd"] > 0 for e in log)
    assert out.cost_usd == pytest.approx(sum(e["cost_usd"] for e in log))
    assert KEY not in out.traces["gateway.jsonl"].decode()


PROVIDER_URLS = """
import json, os, sys
import anthropic, openai

wd = sys.argv[sys.argv.index("--working_dir") + 1]
out = {}
BASE = "https://api.openai.com/v1"  # as SIA's reference agents name their provider
client = openai.OpenAI(base_url=BASE, api_key=os.environ["SOME_PROVIDER_API_KEY"])
reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
out["openai"] = reply.choices[0].message.content
os.environ.pop("ANTHROPIC_BASE_URL", None)  # the SDK's own default: https://api.anthropic.com
msg = anthropic.Anthropic().messages.create(
    model="claude-x", max_tokens=16, messages=[{"role": "user", "content": "yo"}])
out["anthropic"] = msg.content[0].text
out["key"] = os.environ["SOME_PROVIDER_API_KEY"]
open(os.path.join(wd, "out.json"), "w").write(json.dumps(out))
"""


@pytest.mark.parametrize("backend", backends())
def test_provider_urls_in_the_agent_reach_the_run_model_with_no_edit(
    tmp_path: Path, backend: str
) -> None:
    """A hard-coded `https://api.openai.com/v1` and the Anthropic SDK's default URL resolve to
    the sandbox's endpoint, which speaks TLS with a certificate of this run's own authority; a
    key variable the agent reads is found in its source and given the dummy key."""
    pytest.importorskip("anthropic", reason="the test extra installs the anthropic SDK")
    with FakeLLM(lambda body, n: text(f"answer {body['messages'][-1]['content']}")) as llm:
        profile = ModelProfile(model="openai/gpt-4o-mini", api_base=llm.api_base, retries=0)
        client = ModelClient(profile, Budget(None))
        sandbox = Sandbox(backend, ["openai", "anthropic"], [])
        env = RunEnvironment(TASK, sandbox, TASK.public_dir, Limits(timeout_s=90), target=client)
        out = try_candidate(env, Attempt(0, {"target_agent.py": PROVIDER_URLS.encode()},
                                         tmp_path / "c", 0))  # fmt: skip
    assert out.run is not None and out.run.ok, out.run.stderr_tail if out.run else out.reason
    result = json.loads((tmp_path / "c" / "sandbox" / "work" / "out.json").read_text())
    assert result == {"openai": "answer hi", "anthropic": "answer yo", "key": "sia-gateway"}
    log = [json.loads(line) for line in out.traces["gateway.jsonl"].decode().splitlines()]
    assert [(e["api"], e["status"]) for e in log] == [("openai", 200), ("anthropic", 200)]
    assert out.note == ""


HARDCODED = """
import openai
client = openai.OpenAI(base_url="https://api.openai.com/v1", api_key="sk-mine")
client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
"""


def test_an_agent_that_cannot_reach_its_provider_is_told_to_use_the_environment() -> None:
    """Where the relay cannot serve port 443 (bubblewrap without root), a provider URL fails as
    a network error; the hint names the variables that do work."""
    from sia_git.evolve.candidates import network_hint

    assert network_hint("openai.APIConnectionError: Connection error.", HARDCODED)
    assert network_hint("ValueError: bad", HARDCODED) is None
