"""A local stand-in for the Kubernetes API server, as much of it as K8sRunLauncher uses: Jobs (create, read,
status, delete) and the pods of a Job (list). It keeps what it was sent, answers 404 to anything else (and
records it), and comes with a kubeconfig that points at it."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

JOBS = re.compile(r"^/apis/batch/v1/namespaces/(?P<namespace>[^/]+)/jobs$")
JOB = re.compile(r"^/apis/batch/v1/namespaces/(?P<namespace>[^/]+)/jobs/(?P<name>[^/]+)(?P<status>/status)?$")
PODS = re.compile(r"^/api/v1/namespaces/(?P<namespace>[^/]+)/pods$")


class FakeKubernetes:
    def __init__(self) -> None:
        self.jobs: dict[tuple[str, str], dict[str, Any]] = {}  # (namespace, name) -> the Job as sent
        self.requests: list[tuple[str, str]] = []
        self.unexpected: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                return

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                path = urlparse(self.path).path
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null") if length else None
                with fake._lock:
                    fake.requests.append((self.command, self.path))
                    status, answer = fake.handle(self.command, path, body)
                self._answer(status, answer)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        if (match := JOBS.match(path)) and method == "POST":
            name = body["metadata"]["name"]
            key = (match["namespace"], name)
            if key in self.jobs:
                return 409, status_body(409, "AlreadyExists", f'jobs.batch "{name}" already exists')
            created = {
                **body,
                "metadata": {
                    **body["metadata"],
                    "namespace": match["namespace"],
                    "uid": str(uuid.uuid4()),
                    "creationTimestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
                "status": {},
            }
            self.jobs[key] = body
            return 201, created
        if match := JOB.match(path):
            key = (match["namespace"], match["name"])
            if key not in self.jobs:
                return 404, status_body(404, "NotFound", f'jobs.batch "{match["name"]}" not found')
            if method == "GET":
                return 200, {**self.jobs[key], "status": {"active": 1}}
            if method == "DELETE":
                del self.jobs[key]
                return 200, status_body(200, "Success", "deleted")
        if PODS.match(path) and method == "GET":
            return 200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": []}
        self.unexpected.append((method, path))
        return 404, status_body(404, "NotFound", f"{method} {path} is not served here")

    def kubeconfig(self, folder: Path) -> Path:
        path = folder / "kubeconfig.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "fake", "user": {"token": "fake-token"}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                    "current-context": "fake",
                }
            ),
            encoding="utf-8",
        )
        return path


def status_body(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }


@contextmanager
def fake_kubernetes() -> Iterator[FakeKubernetes]:
    fake = FakeKubernetes()
    thread = threading.Thread(target=fake.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
