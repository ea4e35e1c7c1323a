"""Keep secrets out of everything sia-git stores: commits, trees, notes, transcripts, traces.

Two nets: the values of secret-looking environment variables (and of every variable a model
profile names as its key), as they are and in common encodings (base64, hex, reversed,
URL-encoded), and patterns of well-known key formats for values that came from elsewhere (a
model echoing a key it saw, a provider's error message).
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

MASK = "[REDACTED]"
MIN_SECRET_LEN = 8
_SECRET_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|PRIVATE|SESSION", re.IGNORECASE
)
# Each pattern with the literals one of which every match of it holds (lower-cased where the
# pattern ignores case): a pattern runs only over text holding one. Run over every trace of
# every candidate, eight regex passes were a tenth of a fast agent's generation.
_PATTERNS = [
    (re.compile(p), literals)
    for p, literals in (
        (r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{16,}", ("sk-",)),  # OpenAI, Anthropic
        (r"\bhf_[A-Za-z0-9]{20,}", ("hf_",)),  # Hugging Face
        (r"\bgh[pousr]_[A-Za-z0-9]{30,}", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),  # GitHub
        (r"\bgithub_pat_[A-Za-z0-9_]{30,}", ("github_pat_",)),
        (r"\bAKIA[0-9A-Z]{16}\b", ("AKIA",)),  # AWS access key id
        (r"\bAIza[0-9A-Za-z_\-]{30,}", ("AIza",)),  # Google
        (r"\bxox[abprs]-[A-Za-z0-9\-]{10,}", ("xox",)),  # Slack
        (r"(?i)\bbearer\s+[A-Za-z0-9_\-\.=]{16,}", ("bearer",)),
    )
]


# Names that match the pattern but hold no secret: a commit's author, where an agent or a
# display server listens, the names (not the values) of git settings.
_NOT_SECRET_NAME = re.compile(
    r"GIT_(AUTHOR|COMMITTER)_(NAME|EMAIL|DATE)|GIT_CONFIG_KEY_\d+|SSH_AUTH_SOCK|XAUTHORITY|"
    r"GPG_AGENT_INFO"
)


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name says it holds a secret."""
    return bool(_SECRET_NAME.search(name)) and not _NOT_SECRET_NAME.fullmatch(name)


def encodings(secret: str) -> set[str]:
    """The secret and the forms it is commonly smuggled in: base64 (standard and URL-safe, at
    each of the three alignments it can have inside a longer encoded text), hex, reversed and
    URL-encoded. Only the characters that depend on the secret alone are kept."""
    raw = secret.encode()
    out = {secret, secret[::-1], raw.hex(), raw.hex().upper(), quote(secret, safe=""),
           quote_plus(secret, safe="")}  # fmt: skip
    for k in range(3):
        first, last = -(-8 * k // 6), (8 * (k + len(raw)) - 6) // 6
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            out.add(enc(b"\0" * k + raw).decode()[first : last + 1])
    return {v for v in out if len(v) >= MIN_SECRET_LEN}


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is masked whole; every secret in
        # each of its common encodings too.
        kept = {s for s in secrets if len(s) >= MIN_SECRET_LEN}
        self.secrets = sorted({e for s in kept for e in encodings(s)}, key=len, reverse=True)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, key_names: Iterable[str] = ()
    ) -> Redactor:
        env = os.environ if env is None else env
        names = set(key_names)
        return cls(v for k, v in env.items() if k in names or is_secret_name(k))

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        lowered = None
        for pattern, literals in _PATTERNS:
            if pattern.flags & re.IGNORECASE:
                lowered = value.lower() if lowered is None else lowered
                holds = any(lit in lowered for lit in literals)
            else:
                holds = any(lit in value for lit in literals)
            if holds:
                value = pattern.sub(MASK, value)
                lowered = None
        return value

    def bytes(self, value: bytes) -> bytes:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            for secret in self.secrets:
                value = value.replace(secret.encode(), MASK.encode())
            return value
        cleaned = self.text(text)
        return value if cleaned == text else cleaned.encode("utf-8")
