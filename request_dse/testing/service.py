"""A real ``request-dse serve`` process on 127.0.0.1 for integration tests, and a small HTTP client.

:class:`ServerProcess` runs the command as a user would (its own process group, so a test can
``kill -9`` it and everything it started), waits until it answers, and can start again on the
same port and database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from request_dse.testing.postgres import free_port


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def detail(self) -> str:
        return str(self.json().get("detail", ""))


def http(method: str, url: str, *, token: str | None = None, body: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 60.0) -> Reply:
    """One request; an HTTP error status is a reply like any other."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
            return Reply(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, dict(exc.headers), exc.read())


@dataclass
class ServerProcess:
    tournament: Path
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    log: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 90.0) -> ServerProcess:
        self.log = self.log or self.tournament.with_suffix(".serve.log")
        out = open(self.log, "ab")  # noqa: SIM115 - the process keeps it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "request_dse", "serve", str(self.tournament), "--port", str(self.port)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **self.env},
            cwd=self.tournament.parent)
        out.close()
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if http("GET", f"{self.url}/api/v1/revision", timeout=5).status == 200:
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"request-dse serve did not come up: {self.tail()}")
            time.sleep(0.2)

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log and self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL the server alone, as a crash would (what it started must die with it)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """Ctrl-C, as an organizer stops it; SIGKILL for its whole process group if it hangs."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        return self.process.returncode

    def get(self, path: str, token: str | None = None) -> Any:
        reply = http("GET", self.url + path, token=token)
        assert reply.status == 200, (path, reply.status, reply.body[:500])
        return reply.json()

    def wait_for(self, what: str, predicate: Any, timeout_s: float = 120.0, poll_s: float = 0.3) -> Any:
        """Poll ``predicate()`` until it returns something true; fail with the server's log tail."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; server log:\n{self.tail()}")
            time.sleep(poll_s)
