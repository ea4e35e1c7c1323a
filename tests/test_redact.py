"""Secrets never reach git: values of secret-looking variables and known key formats are
masked in every blob, message and note sia-git writes."""

from __future__ import annotations

import base64
import urllib.parse
from pathlib import Path

import pytest

from sia_git.core.redact import MASK, Redactor, encodings, is_secret_name
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
        "BEARER abcdefghijklmnopqrst",
        "github_pat_" + "b" * 30,
        "AIza" + "c" * 30,
        "xoxp-1234567890",
        "gho_" + "d" * 30,
    ):
        assert secret not in r.text(f"error: {secret} was refused"), secret
        # Two formats in one text: masking the first must not hide the second from its check.
        both = r.text(f"sk-ant-{'e' * 20} then {secret}")
        assert secret not in both and "sk-ant-" not in both, secret
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


SMUGGLED = "pa$s?w>o~rd/&+=s3cr3t!"  # characters that URL-safe base64 and percent-encoding change


@pytest.mark.parametrize("k", [0, 1, 2])
@pytest.mark.parametrize("enc", [base64.b64encode, base64.urlsafe_b64encode], ids=["std", "url"])
def test_a_secret_inside_a_longer_base64_text_is_masked_at_every_alignment(enc, k) -> None:  # noqa: ANN001
    """Base64 of `prefix + secret + suffix` holds the secret's encoding at one of three
    alignments (the prefix's length mod 3); each is masked, for both alphabets."""
    assert base64.b64encode(SMUGGLED.encode()) != base64.urlsafe_b64encode(SMUGGLED.encode())
    r = Redactor.from_env({"MY_SECRET": SMUGGLED})
    blob = enc(b"x" * k + SMUGGLED.encode() + b" tail of the file").decode()
    assert MASK in r.text(f"data: {blob}")
    assert blob not in r.text(f"data: {blob}")


@pytest.mark.parametrize("enc", [base64.b64encode, base64.urlsafe_b64encode])
@pytest.mark.parametrize("k", [0, 1, 2])
def test_each_base64_form_is_exactly_the_part_that_depends_on_the_secret_alone(enc, k) -> None:  # noqa: ANN001
    """At alignment k, the form is in the encoding of every text that holds the secret at that
    alignment, and one character more at either end is not: the longest such part, no less."""
    secret = "sk-proj-abcdefghij0123456789"
    texts = [bytes([a]) * k + secret.encode() + bytes([b]) * n
             for a in (0, 0xFF) for b in (0, 0x41, 0xFF) for n in (0, 1, 2)]  # fmt: skip
    encoded = [enc(t).decode() for t in texts]
    forms = [f for f in encodings(secret) if all(f in e for e in encoded)]
    assert len(forms) == 1, forms
    form = forms[0]
    at = encoded[0].index(form)
    wider = [encoded[0][max(at - 1, 0) : at + len(form)], encoded[0][at : at + len(form) + 1]]
    for w in wider:
        assert w == form or not all(w in e for e in encoded), (k, w)


@pytest.mark.parametrize("encode", [urllib.parse.quote, urllib.parse.quote_plus])
def test_a_percent_encoded_secret_is_masked(encode) -> None:  # noqa: ANN001
    assert encode(SMUGGLED, safe="") != SMUGGLED
    r = Redactor.from_env({"MY_SECRET": SMUGGLED})
    assert r.text(f"?q={encode(SMUGGLED, safe='')}&x=1") == f"?q={MASK}&x=1"


def test_secrets_of_eight_characters_or_more_are_masked_shorter_ones_are_not() -> None:
    r = Redactor.from_env({"A_TOKEN": "q7w8e9r0", "B_TOKEN": "q7w8e9r"})
    assert r.text("x q7w8e9r0 y") == f"x {MASK} y"
    assert r.text("x q7w8e9r y") == "x q7w8e9r y"


def test_a_secret_that_holds_another_is_masked_whole() -> None:
    r = Redactor(["abcdefgh", "abcdefgh12345678"])
    assert r.text("v=abcdefgh12345678;") == f"v={MASK};"


@pytest.mark.parametrize(
    "word", ["KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH", "PRIVATE",
             "SESSION", "api_key"],
)  # fmt: skip
def test_secret_names(word: str) -> None:
    assert is_secret_name(f"MY_{word}_X")
    assert not is_secret_name("MY_HOME_DIR")


@pytest.mark.parametrize(
    "key",
    [
        "github_pat_" + "A1b2" * 8,
        "AIza" + "Sy-_9" * 7,
        "xoxb-1234567890-abcdef",
        "ghp_" + "Z" * 36,
        "AKIA" + "ABCDEFGHIJKLMNOP",
        "hf_" + "a1" * 12,
        "Bearer " + "eyJ" * 8,
    ],
)
def test_each_known_key_format_is_masked(key: str) -> None:
    assert Redactor().text(f"<{key}>") == f"<{MASK}>"
