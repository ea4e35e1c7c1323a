"""A Hugging Face Hub-compatible HTTP server on 127.0.0.1 for tests.

It stands in for huggingface.co (no Hub server installs from the package registries): the real
huggingface_hub client talks to it over HTTP. It speaks the subset sia-git uses: repos/create,
preupload (every file "regular", so contents travel inline in the commit), commit (NDJSON),
tag, refs, revision info, tree, resolve (HEAD and GET), and the model card's YAML check.
Tokens are checked when `token` is set; `down` makes every request fail with 503, as a hub
outage would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlparse

from tests.loopback import LoopbackServer


@dataclass
class HubRepo:
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # oid -> files
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def resolve(self, rev: str) -> str | None:
        if rev in self.commits:
            return rev
        return self.branches.get(rev) or self.tags.get(rev)


class FakeHub(LoopbackServer):
    """`with FakeHub() as hub:` serves on `hub.endpoint` until the block ends."""

    def __init__(self, token: str | None = None) -> None:
        self.repos: dict[str, HubRepo] = {}
        self.token = token
        self.down = False
        self.requests: list[tuple[str, str]] = []
        super().__init__(_handler(self))
        self.endpoint = self.url

    def files(self, repo: str, rev: str) -> dict[str, bytes]:
        r = self.repos[repo]
        oid = r.resolve(rev)
        assert oid is not None, f"{repo} has no revision {rev}"
        return r.commits[oid]

    # -- the API ---------------------------------------------------------------------------

    def route(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        m = re.fullmatch(r"/api/repos/create", path)
        if m and method == "POST":
            data = json.loads(body)
            name = (
                f"{data['organization']}/{data['name']}"
                if data.get("organization")
                else data["name"]
            )
            if name in self.repos:
                return _json(
                    409,
                    {
                        "error": "You already created this model repo",
                        "url": f"{self.endpoint}/{name}",
                    },
                )
            self.repos[name] = HubRepo()
            return _json(200, {"url": f"{self.endpoint}/{name}", "name": name})
        if path == "/api/validate-yaml" and method == "POST":
            return _json(200, {"errors": [], "warnings": []})  # model card metadata: accepted
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/(preupload|commit|tag)/(.+)", path)
        if m and method == "POST":
            repo = self.repos.get(m.group(1))
            if repo is None:
                return _json(404, {"error": "Repository not found"})
            rev = unquote(m.group(3))
            if m.group(2) == "preupload":
                files = json.loads(body)["files"]
                return _json(
                    200,
                    {
                        "files": [
                            {
                                "path": f["path"],
                                "uploadMode": "regular",
                                "shouldIgnore": False,
                                "oid": None,
                            }
                            for f in files
                        ],
                        "commitOid": repo.resolve(rev),
                    },
                )
            if m.group(2) == "commit":
                return self._commit(m.group(1), repo, rev, body)
            data = json.loads(body)
            oid = repo.resolve(rev)
            if oid is None:
                return _json(404, {"error": "Revision not found"})
            if data["tag"] in repo.tags:
                return _json(409, {"error": "Tag already exists"})
            repo.tags[data["tag"]] = oid
            return _json(200, {})
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/refs", path)
        if m and method == "GET":
            repo = self.repos.get(m.group(1))
            if repo is None:
                return _json(404, {"error": "Repository not found"})
            return _json(
                200,
                {
                    "branches": [
                        {"name": n, "ref": f"refs/heads/{n}", "targetCommit": o}
                        for n, o in repo.branches.items()
                    ],
                    "tags": [
                        {"name": n, "ref": f"refs/tags/{n}", "targetCommit": o}
                        for n, o in repo.tags.items()
                    ],
                    "converts": [],
                },
            )
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/(?:revision|tree)/([^/]+)(/.*)?", path)
        if m and method == "GET":
            repo = self.repos.get(m.group(1))
            oid = repo.resolve(unquote(m.group(2))) if repo else None
            if repo is None or oid is None:
                return _json(404, {"error": "Revision not found"})
            files = repo.commits[oid]
            if "/tree/" in path:
                return _json(
                    200,
                    [
                        {"type": "file", "path": p, "size": len(c), "oid": _git_oid(c)}
                        for p, c in sorted(files.items())
                    ],
                )
            return _json(
                200,
                {
                    "id": m.group(1),
                    "modelId": m.group(1),
                    "sha": oid,
                    "private": False,
                    "siblings": [{"rfilename": p} for p in sorted(files)],
                },
            )
        m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if m and method in ("GET", "HEAD"):
            repo = self.repos.get(m.group(1))
            oid = repo.resolve(unquote(m.group(2))) if repo else None
            content = repo.commits[oid].get(unquote(m.group(3))) if repo and oid else None
            if content is None:
                return 404, {"X-Error-Code": "EntryNotFound"}, b"not found"
            return (
                200,
                {
                    "X-Repo-Commit": oid,
                    "ETag": f'"{_git_oid(content)}"',
                    "Content-Length": str(len(content)),
                    "Content-Type": "application/octet-stream",
                },
                content,
            )
        return _json(404, {"error": f"fakehub: no route for {method} {path}"})

    def _commit(
        self, name: str, repo: HubRepo, rev: str, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        parent = repo.branches.get(rev)
        files = dict(repo.commits[parent]) if parent else {}
        summary = ""
        for line in body.decode().splitlines():
            item = json.loads(line)
            value = item["value"]
            if item["key"] == "header":
                summary = value.get("summary", "")
            elif item["key"] == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif item["key"] == "deletedFile":
                files.pop(value["path"], None)
        oid = hashlib.sha1(
            json.dumps(
                [parent, summary, sorted((p, _git_oid(c)) for p, c in files.items())]
            ).encode()
        ).hexdigest()  # noqa: S324
        repo.commits[oid] = files
        repo.branches[rev] = oid
        return _json(
            200,
            {
                "commitUrl": f"{self.endpoint}/{name}/commit/{oid}",
                "commitOid": oid,
                "success": True,
            },
        )


def _git_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()  # noqa: S324


def _json(status: int, data: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(data).encode()


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = urlparse(self.path).path
            with hub._lock:
                hub.requests.append((self.command, path))
                if hub.down:
                    status, headers, data = 503, {}, b"hub down"
                elif (
                    hub.token
                    and self.headers.get("Authorization") != f"Bearer {hub.token}"
                    and self.command != "GET"
                    and self.command != "HEAD"
                ):
                    status, headers, data = _json(401, {"error": "Invalid credentials"})
                else:
                    status, headers, data = hub.route(self.command, path, body)
            self.send_response(status)
            headers = {**headers, "Content-Length": str(len(data))}
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _serve

    return Handler
