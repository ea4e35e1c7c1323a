"""Keep secrets out of everything sia-git stores: commits, trees, notes, transcripts, traces.

Two nets: the exact values of secret-looking environment variables (and of every variable a model
profile names as its key), and patterns of well-known key formats for values that came from
elsewhere (a model echoing a key it saw, a provider's error message).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

MASK = "[REDACTED]"
MIN_SECRET_LEN = 8
_SECRET_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|PRIVATE|SESSION", re.IGNORECASE
)
_PATTERNS = [
    re.compile(p)
    for p in (
        r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{16,}",  # OpenAI, Anthropic
        r"\bhf_[A-Za-z0-9]{20,}",  # Hugging Face
        r"\bgh[pousr]_[A-Za-z0-9]{30,}",  # GitHub
        r"\bgithub_pat_[A-Za-z0-9_]{30,}",
        r"\bAKIA[0-9A-Z]{16}\b",  # AWS access key id
        r"\bAIza[0-9A-Za-z_\-]{30,}",  # Google
        r"\bxox[abprs]-[A-Za-z0-9\-]{10,}",  # Slack
        r"(?i)\bbearer\s+[A-Za-z0-9_\-\.=]{16,}",
    )
]


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted(
            {s for s in secrets if len(s) >= MIN_SECRET_LEN}, key=len, reverse=True
        )

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, key_names: Iterable[str] = ()
    ) -> Redactor:
        env = os.environ if env is None else env
        names = set(key_names)
        return cls(v for k, v in env.items() if k in names or _SECRET_NAME.search(k))

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        for pattern in _PATTERNS:
            value = pattern.sub(MASK, value)
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
