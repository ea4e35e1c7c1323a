"""The model client: real litellm over HTTP to a scripted OpenAI-compatible server on 127.0.0.1
(tests/fakellm.py stands in for the provider)."""

from __future__ import annotations

import threading

import pytest

from sia_git.llm.budget import Budget, BudgetExhausted
from sia_git.llm.client import ModelAuthError, ModelClient, ModelError
from sia_git.llm.profiles import ModelProfile, resolve
from tests.fakellm import FakeLLM, Reply, error, text, tool

MODEL = "openai/gpt-4o-mini"  # priced in litellm's bundled map, served by the fake


def client(llm: FakeLLM, budget: Budget | None = None, **kw: object) -> ModelClient:
    profile = ModelProfile(
        model=MODEL, api_base=llm.api_base, retries=2, backoff_s=0.5, timeout_s=5, **kw
    )  # type: ignore[arg-type]
    c = ModelClient(profile, budget or Budget(None))
    c.sleep = lambda s: sleeps.append(s)
    return c


sleeps: list[float] = []


@pytest.fixture(autouse=True)
def _clear() -> None:
    sleeps.clear()


MSG = [{"role": "user", "content": "hello"}]


def test_reply_text_tool_calls_and_cost_come_back() -> None:
    replies = [text("hi there"), tool("read_task_file", path="task.md")]
    with FakeLLM(lambda body, n: replies[n]) as llm:
        c = client(llm)
        first = c.chat(MSG)
        second = c.chat(
            MSG,
            tools=[
                {
                    "type": "function",
                    "function": {
                        "name": "read_task_file",
                        "parameters": {"type": "object", "properties": {}},
                    },
                }
            ],
        )
    assert first.content == "hi there" and first.finish_reason == "stop"
    assert first.prompt_tokens == 100 and first.completion_tokens == 50
    # gpt-4o-mini's bundled price: $0.15 / $0.60 per million tokens.
    assert first.cost_usd == pytest.approx(100 * 0.15e-6 + 50 * 0.6e-6)
    assert second.tool_calls[0]["name"] == "read_task_file"
    assert second.tool_calls[0]["arguments"] == '{"path": "task.md"}'
    assert llm.requests[1]["tools"][0]["function"]["name"] == "read_task_file"


def test_429_then_success_is_retried_with_growing_backoff() -> None:
    replies = [error(429), error(503), text("ok")]
    with FakeLLM(lambda body, n: replies[n]) as llm:
        reply = client(llm).chat(MSG)
    assert reply.content == "ok" and len(llm.requests) == 3
    # backoff_s * 2**attempt, with jitter in [50%, 100%)
    assert len(sleeps) == 2 and 0.25 <= sleeps[0] < 0.5 <= sleeps[1] < 1.0


def test_500_forever_fails_after_the_retries() -> None:
    with (
        FakeLLM(lambda body, n: error(500)) as llm,
        pytest.raises(ModelError, match=r"HTTP 500.*after 3 attempt"),
    ):
        client(llm).chat(MSG)
    assert len(llm.requests) == 3


def test_401_stops_at_once_and_names_the_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIA_TEST_KEY", "sk-test-0123456789abcdefghij")
    with FakeLLM(lambda body, n: error(401, "invalid key")) as llm:
        c = client(llm, api_key_env="SIA_TEST_KEY")
        with pytest.raises(ModelAuthError, match="SIA_TEST_KEY"):
            c.chat(MSG)
    assert len(llm.requests) == 1, "an auth error must not be retried"
    assert c.auth_error and "SIA_TEST_KEY" in c.auth_error
    sent = {k.lower(): v for k, v in llm.headers[0].items()}
    assert sent["authorization"] == "Bearer sk-test-0123456789abcdefghij"


def test_a_timeout_is_retried_then_fails() -> None:
    with FakeLLM(lambda body, n: Reply(content="late", delay_s=3)) as llm:
        c = client(llm)
        c.profile = c.profile.model_copy(update={"timeout_s": 0.5, "retries": 1})
        with pytest.raises(ModelError, match="after 2 attempt"):
            c.chat(MSG)


def test_an_oversized_reply_is_refused_but_still_paid_for() -> None:
    huge = Reply(content="x" * 20_000_000)
    budget = Budget(None)
    with (
        FakeLLM(lambda body, n: huge) as llm,
        pytest.raises(ModelError, match="over the limit") as info,
    ):
        client(llm, budget).chat(MSG)
    assert info.value.cost_usd > 0 and budget.spent_usd == pytest.approx(info.value.cost_usd)


def test_budget_refuses_a_call_whose_worst_case_does_not_fit() -> None:
    # Worst case of one call: ~10 prompt tokens + 1000 reply tokens at $0.60/M ≈ $0.000601.
    budget = Budget(0.00063)
    with FakeLLM(lambda body, n: text("ok")) as llm:
        c = client(llm, budget, max_tokens=1000)
        c.chat(MSG)  # fits; really costs $0.000045
        with pytest.raises(BudgetExhausted, match=r"budget \$0.0006 reached"):
            c.chat(MSG)  # 0.000045 spent + 0.000601 worst case > 0.00063
        assert len(llm.requests) == 1
    assert budget.spent_usd == pytest.approx(0.000045) and budget.exhausted


def test_calls_in_flight_count_against_the_budget() -> None:
    """Two concurrent calls, each with a worst case of ~60% of the budget: only one is made."""
    budget = Budget(0.004)
    release = threading.Event()

    def script(body: dict, n: int) -> Reply:
        release.wait(5)
        return text("ok")

    results: list[str] = []
    with FakeLLM(script) as llm:
        c = client(llm, budget, max_tokens=4000)

        def call() -> None:
            try:
                c.chat(MSG)
                results.append("made")
            except BudgetExhausted:
                results.append("refused")
                release.set()

        threads = [threading.Thread(target=call) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert sorted(results) == ["made", "refused"]
    assert len(llm.requests) == 1
    assert budget.spent_usd <= 0.004 and budget.exhausted


def test_profile_names_a_key_variable_that_is_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from sia_git.core.errors import SiaError

    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(SiaError, match="NO_SUCH_KEY_VAR .*is not set"):
        resolve("openai/gpt-4o-mini", {}, api_key_env="NO_SUCH_KEY_VAR")


def test_a_profile_by_name_with_flags_winning() -> None:
    profiles = {
        "local": ModelProfile(
            model="openai/qwen", api_base="http://127.0.0.1:1/v1", temperature=0.7
        )
    }
    p = resolve("local", profiles, api_base="http://127.0.0.1:2/v1")
    assert (p.model, p.api_base, p.temperature) == ("openai/qwen", "http://127.0.0.1:2/v1", 0.7)


def test_litellm_imports_offline_with_its_bundled_price_map() -> None:
    """Imported with no network at all (`unshare -n`), litellm must not stall on a price-map
    fetch, and must price models from the map it ships."""
    import shutil
    import subprocess
    import sys

    if shutil.which("unshare") is None:
        pytest.skip("unshare is not available")
    code = (
        "from sia_git.llm.client import litellm\nlib = litellm()\n"
        "print(lib.model_cost['gpt-4o-mini']['input_cost_per_token'])"
    )
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in __import__("os").environ.items() if not k.startswith("LITELLM")},
    )
    if done.returncode != 0 and "unshare" in done.stderr:
        pytest.skip(f"unshare -n cannot run here: {done.stderr.strip()[:100]}")
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.strip()) == pytest.approx(1.5e-7)


def test_a_server_counting_more_prompt_tokens_never_takes_the_run_over_its_budget() -> None:
    """Servers count prompts their own way (a chat template, another tokenizer): one counting
    22% above litellm's estimate must not make a run end above --budget-usd. The worst case
    takes a margin over the estimate, then the largest ratio the server has shown."""
    from sia_git.llm.client import litellm

    long = [{"role": "user", "content": "word " * 800}]
    price = {"input_cost_per_token": 0.00001, "output_cost_per_token": 0.0, "max_tokens": 16}
    with FakeLLM(lambda body, n: text("ok")) as probe:
        estimate = client(probe)._prompt_tokens(litellm(), long, None)
    counted = int(estimate * 1.22)
    tight = Budget(1.10 * estimate * 0.00001)  # the estimate fits; what the server counts not
    with FakeLLM(lambda body, n: text("ok", prompt_tokens=counted)) as llm:
        with pytest.raises(BudgetExhausted):
            client(llm, tight, **price).chat(long)
        assert llm.requests == []
    assert tight.spent_usd == 0.0
    # A server counting even more (50% above): the first call teaches the client its ratio.
    heavy = int(estimate * 1.5)
    roomy = Budget(10 * estimate * 0.00001)
    with FakeLLM(lambda body, n: text("ok", prompt_tokens=heavy)) as llm:
        c = client(llm, roomy, **price)
        while True:
            try:
                c.chat(long)
            except BudgetExhausted:
                break
    assert c.prompt_ratio == pytest.approx(heavy / estimate)
    assert roomy.spent_usd <= roomy.limit_usd
    assert roomy.spent_usd == pytest.approx(len(llm.requests) * heavy * 0.00001)


def test_a_model_litellm_does_not_know_is_streamed_and_counted_live() -> None:
    """A local server's model: the call is streamed (the server saw `stream: true`), the reply
    and its tool calls are rebuilt from the chunks, and the live count reaches the caller."""
    from sia_git.llm.client import live_tokens

    seen: list[int] = []
    replies = [text("a short reply"), tool("read_file", path="x.py")]
    tools = [{"type": "function", "function": {"name": "read_file", "parameters": {}}}]
    with FakeLLM(lambda body, n: replies[n]) as llm:
        c = ModelClient(ModelProfile(model="openai/local-small-model", api_base=llm.api_base),
                        Budget(None))  # fmt: skip
        with live_tokens(seen.append):
            first = c.chat(MSG)
            second = c.chat(MSG, tools=tools)
    assert all(r.get("stream") for r in llm.requests)
    assert first.content == "a short reply" and first.prompt_tokens == 100
    assert second.tool_calls[0]["name"] == "read_file"
    assert seen and seen[-1] >= 1


def test_a_model_measured_slow_is_asked_for_what_it_can_write_in_time() -> None:
    c = ModelClient(ModelProfile(model="openai/local", api_base="http://127.0.0.1:9",
                                 max_reply_s=30), Budget(None))  # fmt: skip
    assert c._paced(4096) == 4096  # not measured yet
    c.measured_tps = 10.0  # 10 tokens/s, 30 s per call: 300 tokens
    assert c._paced(4096) == 300
    c.measured_tps = 1.0
    assert c._paced(4096) == 256  # never less than a short reply


def test_a_reply_cut_by_time_says_so_and_names_the_setting_not_max_tokens() -> None:
    """A streamed reply still coming at `max_reply_s` is cut there: the reply says it was the
    time limit (and which profile setting to change), not max_tokens; the Meta-Agent's retry
    does not tell the model to write a shorter agent. A reply the server ended at its length
    says max_tokens."""
    from sia_git.agents.meta import extract_code

    half = "Here is the agent.\n\n```python\nimport argparse\n"
    with FakeLLM(lambda body, n: text(half, delay_s=0.05)) as llm:
        c = ModelClient(ModelProfile(model="openai/local-slow", api_base=llm.api_base,
                                     max_reply_s=0.01), Budget(None))  # fmt: skip
        reply = c.chat(MSG, max_tokens=4000)
    assert reply.finish_reason == "length"
    assert reply.cut.startswith("cut by time") and "max_reply_s" in reply.cut, reply.cut
    assert "max_tokens 4000" in reply.cut and "tokens_per_s" in reply.cut
    _, why = extract_code(reply.content, reply.finish_reason, reply.cut)
    assert why is not None and "cut by time" in why and "shorter" not in why

    with FakeLLM(lambda body, n: text(half, finish_reason="length")) as llm:
        c = ModelClient(ModelProfile(model="openai/local-fast", api_base=llm.api_base),
                        Budget(None))  # fmt: skip
        reply = c.chat(MSG, max_tokens=50)
    assert reply.finish_reason == "length" and reply.cut.startswith("cut at max_tokens")
    _, why = extract_code(reply.content, reply.finish_reason, reply.cut)
    assert why is not None and "shorter" in why


def test_a_server_that_is_not_there_is_named_not_an_http_500() -> None:
    """litellm reports a refused connection as "HTTP 500: InternalServerError", which every
    failed candidate's line once repeated (issue 32, item 10)."""
    import socket

    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}/v1"
    profile = ModelProfile(model=MODEL, api_base=base, retries=1, backoff_s=0.1, timeout_s=5)  # type: ignore[arg-type]
    c = ModelClient(profile, Budget(None))
    c.sleep = lambda s: None
    with pytest.raises(ModelError) as caught:
        c.chat(MSG)
    said = str(caught.value)
    assert f"cannot connect to the model server at {base}" in said, said
    assert "HTTP 500" not in said and "InternalServerError" not in said
