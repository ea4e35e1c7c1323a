"""What lets an agent written for a hosted provider reach the run's model unchanged: the hosts
its SDK calls (the well-known providers, any model-API URL in the agent's source, any host the
task lists) resolve to 127.0.0.1 inside the sandbox, where the relay hands port 443 to the
gateway, which terminates TLS with a certificate from a certificate authority made for this one
run. Only the sandbox trusts that authority (SSL_CERT_FILE and friends point at it), and its
private key is thrown away once the certificate is signed. The key variables an agent reads
get the dummy key, found in its source the same way."""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# The providers an SDK calls by default, or that SIA's reference agents name.
PROVIDER_HOSTS = (
    "api.openai.com",
    "api.anthropic.com",
    "generativelanguage.googleapis.com",
    "api.mistral.ai",
    "api.groq.com",
    "api.together.xyz",
    "api.together.ai",
    "api.fireworks.ai",
    "api.deepseek.com",
    "openrouter.ai",
    "api.cohere.com",
    "api.x.ai",
    "api.perplexity.ai",
    "api-inference.huggingface.co",
    "router.huggingface.co",
)
CA_IN_SANDBOX = "/sia/tls/ca.pem"
CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
_URL = re.compile(r"https?://([A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z]{2,})(?::\d+)?(/[^\s\"'<>]*)?")
# A model API's path: /v1, /v1beta, /openai/..., /api/v2, /inference ...
_API_PATH = re.compile(r"/(v\d+\w*|openai|api|inference|chat|completions|messages)(/|$)")
_ENV_READ = re.compile(
    r"""(?:environ\s*\[\s*|environ\.get\(\s*|getenv\(\s*|environ\.setdefault\(\s*)["']([A-Za-z_][A-Za-z0-9_]*)["']"""
)
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


def model_hosts_in(source: str) -> set[str]:
    """Hosts of model-API URLs named in an agent's source: an `api.` host, or a URL whose path
    looks like an API's (`https://x.example.com/v1`)."""
    hosts = set()
    for m in _URL.finditer(source):
        host, path = m.group(1).lower(), m.group(2) or ""
        if host.startswith("api.") or _API_PATH.search(path):
            hosts.add(host)
    return {h for h in hosts if valid_host(h)}


def key_names_in(source: str) -> set[str]:
    """Variables an agent reads that hold a key or token (`*_API_KEY`, `*_TOKEN`): they get the
    dummy key, so an SDK that insists on one starts."""
    names = {m.group(1) for m in _ENV_READ.finditer(source)}
    return {n for n in names if n.upper().endswith(("_API_KEY", "_TOKEN")) or n == "API_KEY"}


def valid_host(host: str) -> bool:
    """A DNS name (not an address, not localhost): what may be pointed at the sandbox's endpoint."""
    try:
        ipaddress.ip_address(host)
        return False
    except ValueError:
        return bool(_HOST.match(host)) and host != "localhost" and len(host) <= 253


def hosts_for(source: str, listed: Iterable[str] = ()) -> list[str]:
    """Every host to intercept for one agent: the providers, its source's API hosts, the task's."""
    return sorted(set(PROVIDER_HOSTS) | model_hosts_in(source) | {h.lower() for h in listed})


def hosts_file(hosts: Iterable[str]) -> str:
    lines = ["127.0.0.1 localhost", "::1 localhost", *(f"127.0.0.1 {h}" for h in sorted(hosts))]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Interception:
    """One run's files: `ca` (the authority's certificate, for the sandbox), `cert` and `key`
    (the endpoint's, for the gateway), `hosts` (the sandbox's /etc/hosts)."""

    ca: Path
    cert: Path
    key: Path
    hosts: Path
    nsswitch: Path
    names: tuple[str, ...]


def issue(hosts: Iterable[str], folder: Path) -> Interception:
    """Make a certificate authority for one run, sign one certificate for every host with it,
    and forget its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    names = tuple(sorted(set(hosts)))
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=2)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    # digital_signature, content_commitment, key_encipherment, data_encipherment, key_agreement,
    # key_cert_sign, crl_sign, encipher_only, decipher_only
    ca_usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sia-git run authority")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(ca_usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    out = Interception(
        ca=folder / "ca.pem",
        cert=folder / "cert.pem",
        key=folder / "key.pem",
        hosts=folder / "hosts",
        nsswitch=folder / "nsswitch.conf",
        names=names,
    )
    out.ca.write_bytes(ca.public_bytes(pem))
    out.cert.write_bytes(leaf.public_bytes(pem))
    out.key.touch(mode=0o600)
    out.key.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    out.hosts.write_text(hosts_file(names))
    out.nsswitch.write_text("hosts: files\n")
    for p in (out.ca, out.hosts, out.nsswitch):
        p.chmod(0o644)  # read by the agent's own uid, through a read-only bind
    return out
