"""A local stand-in for the Hugging Face Hub's model API (the tests have no network).

Serves what ``huggingface_hub`` asks for when it lists models by tag and downloads a
snapshot: ``GET /api/models?filter=TAG``, ``GET /api/models/{repo}/revision/{rev}``,
``GET /api/models/{repo}/tree/{rev}`` and ``HEAD``/``GET /{repo}/resolve/{rev}/{file}``, from
a dict of repos. ``downloads`` counts the file downloads, so a test can check that a model is
fetched only once.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse


class HubStandin:
    """``repos``: ``{repo_id: {"tags": [...], "files": {name: bytes}}}``; use as a context
    manager, ``endpoint`` is its address."""

    def __init__(self, repos: dict[str, dict]) -> None:
        self.repos = repos
        self.downloads: Counter[str] = Counter()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:
                self.respond(head=True)

            def do_GET(self) -> None:
                self.respond(head=False)

            def respond(self, head: bool) -> None:
                url = urlparse(self.path)
                parts = [unquote(p) for p in url.path.strip("/").split("/")]
                if parts[:2] == ["api", "models"] and len(parts) == 2:
                    tag = parse_qs(url.query).get("filter", [None])[0]
                    listed = [standin.info(r) for r, v in standin.repos.items() if tag in v["tags"]]
                    return self.send(json.dumps(listed).encode(), "application/json", head)
                if parts[:2] == ["api", "models"] and "tree" in parts:
                    repo = "/".join(parts[2 : parts.index("tree")])
                    files = standin.repos.get(repo, {}).get("files", {})
                    tree = [
                        {
                            "type": "file",
                            "path": n,
                            "size": len(b),
                            "oid": hashlib.sha1(b).hexdigest(),
                        }
                        for n, b in sorted(files.items())
                    ]
                    return self.send(json.dumps(tree).encode(), "application/json", head)
                if parts[:2] == ["api", "models"] and "revision" in parts:
                    repo = "/".join(parts[2 : parts.index("revision")])
                    if repo not in standin.repos:
                        return self.send(b'{"error": "not found"}', "application/json", head, 404)
                    return self.send(
                        json.dumps(standin.info(repo)).encode(), "application/json", head
                    )
                if "resolve" in parts:
                    at = parts.index("resolve")
                    repo, name = "/".join(parts[:at]), "/".join(parts[at + 2 :])
                    files = standin.repos.get(repo, {}).get("files", {})
                    if name not in files:
                        return self.send(b"not found", "text/plain", head, 404, repo)
                    if not head:
                        standin.downloads[f"{repo}/{name}"] += 1
                    return self.send(files[name], "application/octet-stream", head, 200, repo)
                return self.send(b"not found", "text/plain", head, 404)

            def send(self, body, kind, head, status=200, repo=None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                if repo in standin.repos:
                    self.send_header("X-Repo-Commit", standin.sha(repo))
                    self.send_header("ETag", f'"{hashlib.sha1(body).hexdigest()}"')
                self.end_headers()
                if not head:
                    self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def sha(self, repo: str) -> str:
        files = self.repos[repo]["files"]
        digest = hashlib.sha1()
        for name in sorted(files):
            digest.update(name.encode() + files[name])
        return digest.hexdigest()

    def info(self, repo: str) -> dict:
        return {
            "_id": repo,
            "id": repo,
            "modelId": repo,
            "sha": self.sha(repo),
            "tags": self.repos[repo]["tags"],
            "private": False,
            "siblings": [{"rfilename": name} for name in sorted(self.repos[repo]["files"])],
        }

    def __enter__(self) -> HubStandin:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
