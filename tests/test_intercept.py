"""Which hosts and key variables an agent's source asks for, and the one-run certificate
authority: a client that trusts only it completes a TLS handshake with the gateway's
certificate for every intercepted host, and one that does not trust it refuses."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest

from sia_git.gateway.server import route
from sia_git.sandbox.intercept import (
    PROVIDER_HOSTS,
    hosts_file,
    hosts_for,
    issue,
    key_names_in,
    model_hosts_in,
    valid_host,
)
from sia_git.tasks.manifest import AgentSpec

SIA_STYLE = """
import os
from openai import AsyncOpenAI
TINKER_BASE_URL = "https://tinker.thinkingmachines.dev/services/tinker-prod/oai/api/v1"
DOCS = "https://github.com/hexo-ai/sia"  # not a model API
client = AsyncOpenAI(base_url=TINKER_BASE_URL, api_key=os.environ["TINKER_API_KEY"])
token = os.environ.get('HF_TOKEN'); other = os.getenv("MY_PROVIDER_API_KEY")
home = os.environ["HOME"]
other2 = "http://api.example.org:8080/v2/chat"
"""


def test_model_api_hosts_in_the_source_are_found_and_others_are_not() -> None:
    assert model_hosts_in(SIA_STYLE) == {"tinker.thinkingmachines.dev", "api.example.org"}


def test_key_variables_read_by_the_agent_are_found() -> None:
    assert key_names_in(SIA_STYLE) == {"TINKER_API_KEY", "HF_TOKEN", "MY_PROVIDER_API_KEY"}


def test_the_hosts_file_sends_every_host_to_loopback() -> None:
    hosts = hosts_for(SIA_STYLE, ["models.internal.example"])
    assert set(PROVIDER_HOSTS) <= set(hosts)
    assert {"tinker.thinkingmachines.dev", "models.internal.example"} <= set(hosts)
    text = hosts_file(hosts)
    assert "127.0.0.1 api.openai.com\n" in text and text.startswith("127.0.0.1 localhost\n")


@pytest.mark.parametrize("bad", ["localhost", "10.0.0.1", "no_underscores.com", "x", "a..b.com"])
def test_a_task_cannot_intercept_what_is_not_a_host_name(bad: str) -> None:
    assert not valid_host(bad)
    with pytest.raises(ValueError, match="not a host name"):
        AgentSpec(model_hosts=[bad])
    assert AgentSpec(model_hosts=["Models.Example.COM"]).model_hosts == ["models.example.com"]


def _handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, host: str) -> str:
    a, b = socket.socketpair()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with server_ctx.wrap_socket(a, server_side=True) as s:
                s.sendall(s.recv(5))
        except (OSError, ssl.SSLError) as exc:
            errors.append(exc)

    t = threading.Thread(target=serve)
    t.start()
    try:
        with client_ctx.wrap_socket(b, server_hostname=host) as c:
            c.sendall(b"hello")
            return c.recv(5).decode()
    finally:
        t.join(5)


def test_only_a_client_trusting_the_run_authority_accepts_the_endpoint(tmp_path: Path) -> None:
    files = issue(["api.openai.com", "api.anthropic.com"], tmp_path)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(files.cert, files.key)
    trusting = ssl.create_default_context(cafile=str(files.ca))
    for host in files.names:
        assert _handshake(server, trusting, host) == "hello"
    with pytest.raises(ssl.SSLCertVerificationError):  # a host the certificate does not name
        _handshake(server, trusting, "api.example.com")
    with pytest.raises(ssl.SSLCertVerificationError):  # the system's trust store: not this CA
        _handshake(server, ssl.create_default_context(), "api.openai.com")
    assert b"PRIVATE KEY" not in files.ca.read_bytes()
    assert not list(tmp_path.glob("ca*key*"))  # the authority's key is never written
    assert oct(files.key.stat().st_mode & 0o777) == "0o600"


def test_a_provider_prefix_in_the_path_still_routes() -> None:
    assert route("/v1/chat/completions") == "openai"
    assert route("/openai/v1/chat/completions") == "openai"
    assert route("/v1/messages") == "anthropic"
    assert route("/v1/embeddings") is None
