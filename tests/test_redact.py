"""Secrets never reach git: values of secret-looking variables and known key formats are
masked in every blob, message and note sia-git writes."""

from __future__ import annotations

import base64
import urllib.parse
from pathlib import Path

import pytest

from sia_git.core.redact import MASK, Redactor
from sia_git.gitrepo import open_repo
from tests.conftest import git, make_repo


def test_values_of_secret_named_variables_are_masked() -> None:
    r = Redactor.from_env(
        {"MY_TOKEN": "tok-123456789", "HOME": "/root/home-dir", "SHORT_KEY": "abc"}
    )
    assert r.text("a tok-123456789 b /root/home-dir") == f"a {MASK} b /root/home-dir"
    assert r.text("abc") == "abc", "values under 8 characters would mask ordinary text"


def test_a_named_key_variable_is_masked_whatever_its_name() -> None:
    r = Redactor.from_env({"PROVIDER": "value-of-provider-1"}, key_names=["PROVIDER"])
    assert MASK in r.text("x value-of-provider-1")


def test_known_key_formats_are_masked_wherever_they_came_from() -> None:
    r = Redactor()
    for secret in (
        "sk-proj-AbCdEfGhIjKlMnOpQrStUv",
        "hf_abcdefghijklmnopqrstuvwx",
        "ghp_" + "a" * 36,
        "AKIAABCDEFGHIJKLMNOP",
        "Bearer abcdefghijklmnopqrst",
    ):
        assert secret not in r.text(f"error: {secret} was refused"), secret
    assert r.text("sk-short and task-123") == "sk-short and task-123"


def test_binary_blobs_keep_their_bytes_but_lose_secrets() -> None:
    r = Redactor(["secret-value-1"])
    data = b"\xff\xfe secret-value-1 \x00"
    assert r.bytes(data) == b"\xff\xfe [REDACTED] \x00"
    assert r.bytes(b"\xff plain") == b"\xff plain"


def test_the_repository_masks_trees_commits_and_notes(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("SIA_TEST_SECRET_TOKEN", "very-secret-value-42")
    repo_path = make_repo(tmp_path / "r")
    repo = open_repo(repo_path)
    tree = repo.make_tree(None, {"a.txt": b"key=very-secret-value-42\n"})
    sha = repo.commit(tree, [], "leak very-secret-value-42\n")
    repo.add_note(sha, "note very-secret-value-42")
    shown = git(repo_path, "show", f"{sha}:a.txt") + git(repo_path, "log", "-1", "--format=%B", sha)
    shown += git(repo_path, "notes", "--ref", "sia", "show", sha)
    assert "very-secret-value-42" not in shown and shown.count(MASK) == 3


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: base64.b64encode(f"KEY={s}\n".encode()).decode(),
        lambda s: base64.b64encode(f"xKEY={s}".encode()).decode(),
        lambda s: base64.b64encode(f"xyKEY={s}".encode()).decode(),
        lambda s: base64.urlsafe_b64encode(s.encode()).decode(),
        lambda s: s.encode().hex(),
        lambda s: s.encode().hex().upper(),
        lambda s: s[::-1],
        lambda s: urllib.parse.quote(s + "/&"),
        lambda s: urllib.parse.quote_plus(s),
    ],
    ids=["base64", "base64+1", "base64+2", "urlsafe", "hex", "HEX", "reversed", "url", "url+"],
)
def test_a_secret_is_masked_in_its_common_encodings(encode) -> None:  # noqa: ANN001
    """An agent (or a model) that smuggles a key out encoded still leaves none in git."""
    secret = "sk-canary-0123456789abcdef"
    r = Redactor.from_env({"PROVIDER_TOKEN": secret})
    leaked = f"trace: {encode(secret)} end"
    cleaned = r.text(leaked)
    assert MASK in cleaned
    assert encode(secret) not in cleaned
    assert r.bytes(leaked.encode()) == cleaned.encode()


def test_a_commit_author_is_not_taken_for_a_secret() -> None:
    """`AUTH` in GIT_AUTHOR_NAME is an author, not a token: never masked, never scrubbed."""
    from sia_git.core import childenv

    env = {"GIT_AUTHOR_NAME": "Maria Author", "GIT_AUTHOR_TOKEN": "tok-should-go-1234"}
    r = Redactor.from_env(env)
    assert r.text("by Maria Author") == "by Maria Author"
    assert MASK in r.text("tok-should-go-1234")
    kept = childenv.scrubbed(env)
    assert kept["GIT_AUTHOR_NAME"] == "Maria Author" and "GIT_AUTHOR_TOKEN" not in kept
