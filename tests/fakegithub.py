"""A GitHub-REST-compatible HTTP server on 127.0.0.1 for tests.

It stands in for api.github.com (no GitHub-compatible server installs from the package
registries): the real PyGithub client talks to it over HTTP, pointed at it by GITHUB_API_URL.
It speaks the subset sia-git uses: get a repository, list / create / get / edit / merge pull
requests, and list / create / edit comments on their issues. A pull request's merge
fast-forwards the base branch in the bare repository the tests use as `origin`, as GitHub
would.
"""

from __future__ import annotations

import json
import re
import subprocess
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.loopback import LoopbackServer


class FakeGitHub(LoopbackServer):
    """`with FakeGitHub(...) as gh:` serves on `gh.api` until the block ends."""

    def __init__(self, full_name: str, origin: Path, token: str) -> None:
        self.full_name, self.origin, self.token = full_name, origin, token
        self.pulls: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[str]] = {}
        self.comment_ids: dict[int, tuple[int, int]] = {}  # comment id -> (pull, index)
        self.requests: list[tuple[str, str]] = []
        super().__init__(_handler(self))
        self.api = self.url

    def _sha(self, branch: str) -> str:
        done = subprocess.run(
            ["git", "rev-parse", f"refs/heads/{branch}"],
            cwd=self.origin,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def _pull_json(self, pr: dict[str, Any]) -> dict[str, Any]:
        repo_url = f"{self.api}/repos/{self.full_name}"
        owner = self.full_name.split("/")[0]
        return {
            **pr,
            "url": f"{repo_url}/pulls/{pr['number']}",
            "issue_url": f"{repo_url}/issues/{pr['number']}",
            "html_url": f"https://github.example/{self.full_name}/pull/{pr['number']}",
            "head": {
                "ref": pr["head"],
                "label": f"{owner}:{pr['head']}",
                "sha": self._sha(pr["head"]),
            },
            "base": {
                "ref": pr["base"],
                "label": f"{owner}:{pr['base']}",
                "sha": self._sha(pr["base"]),
            },
        }

    def _comment_json(self, cid: int) -> dict[str, Any]:
        number, index = self.comment_ids[cid]
        return {
            "id": cid,
            "url": f"{self.api}/repos/{self.full_name}/issues/comments/{cid}",
            "body": self.comments[number][index],
            "user": {"login": "github-actions[bot]"},
        }

    def route(
        self, method: str, path: str, query: dict[str, list[str]], body: dict
    ) -> tuple[int, Any]:
        base = f"/repos/{self.full_name}"
        if path == base and method == "GET":
            owner, name = self.full_name.split("/")
            return 200, {
                "full_name": self.full_name,
                "name": name,
                "owner": {"login": owner},
                "url": f"{self.api}{base}",
                "default_branch": "main",
                "html_url": f"https://github.example/{self.full_name}",
            }
        if path == f"{base}/pulls" and method == "GET":
            state = query.get("state", ["open"])[0]
            head = query.get("head", [""])[0].split(":")[-1]
            found = [
                p
                for p in self.pulls.values()
                if (state == "all" or p["state"] == state)
                and (not head or p["head"] == head)
                and p["base"] == query.get("base", [p["base"]])[0]
            ]
            return 200, [self._pull_json(p) for p in found]
        if path == f"{base}/pulls" and method == "POST":
            if not self._sha(body["head"]) or not self._sha(body["base"]):
                return 422, {"message": "Validation Failed: head or base branch not found"}
            number = len(self.pulls) + 1
            self.pulls[number] = {
                "number": number,
                "state": "open",
                "merged": False,
                "title": body["title"],
                "body": body.get("body", ""),
                "head": body["head"],
                "base": body["base"],
                "edits": 0,
            }
            return 201, self._pull_json(self.pulls[number])
        m = re.fullmatch(rf"{base}/issues/comments/(\d+)", path)
        if m and method == "PATCH" and int(m.group(1)) in self.comment_ids:
            number, index = self.comment_ids[int(m.group(1))]
            self.comments[number][index] = body["body"]
            return 200, self._comment_json(int(m.group(1)))
        m = re.fullmatch(rf"{base}/(pulls|issues)/(\d+)(/merge|/comments)?", path)
        if m and int(m.group(2)) in self.pulls:
            pr = self.pulls[int(m.group(2))]
            if m.group(3) == "/merge" and method == "PUT":
                head = self._sha(pr["head"])
                subprocess.run(
                    ["git", "update-ref", f"refs/heads/{pr['base']}", head],
                    cwd=self.origin,
                    check=True,
                )
                pr.update(state="closed", merged=True)
                return 200, {"merged": True, "sha": head, "message": "merged"}
            if m.group(3) == "/comments" and method == "POST":
                self.comments.setdefault(pr["number"], []).append(body["body"])
                cid = len(self.comment_ids) + 1
                self.comment_ids[cid] = (pr["number"], len(self.comments[pr["number"]]) - 1)
                return 201, self._comment_json(cid)
            if m.group(3) == "/comments" and method == "GET":
                ids = [c for c, (n, _) in self.comment_ids.items() if n == pr["number"]]
                return 200, [self._comment_json(c) for c in ids]
            if method == "PATCH":
                pr.update({k: v for k, v in body.items() if k in ("title", "body")})
                pr["edits"] += 1
                return 200, self._pull_json(pr)
            if method == "GET":
                return 200, self._pull_json(pr)
        return 404, {"message": f"fakegithub: no route for {method} {path}"}


def _handler(gh: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            url = urlparse(self.path)
            with gh._lock:
                gh.requests.append((self.command, url.path))
                if (
                    self.headers.get("Authorization") != f"token {gh.token}"
                    and self.headers.get("Authorization") != f"Bearer {gh.token}"
                ):
                    status, data = 401, {"message": "Bad credentials"}
                else:
                    status, data = gh.route(
                        self.command, url.path, parse_qs(url.query), json.loads(raw) if raw else {}
                    )
            out = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = do_PATCH = do_PUT = _serve

    return Handler
