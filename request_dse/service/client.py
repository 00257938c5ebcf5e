"""``request-dse submit``: send bundles to a tournament server (standard library HTTP only).

Each bundle is verified here first (checksums, schema: a broken bundle is reported before it is
sent), packed when it is a folder, and streamed as the request body of
``POST /api/v1/submissions``. The server checks everything again; its refusal is printed as the
one line it sent.
"""

from __future__ import annotations

import json
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from request_dse.errors import UserError
from request_dse.service.server import is_loopback
from request_dse.service.uploads import one_line
from request_dse.submission import BundleError, open_bundle
from request_dse.submission.archive import is_archive, make_archive

TIMEOUT_S = 300.0


class ServerError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        self.status, self.detail = status, one_line(detail)
        super().__init__(f"HTTP {status}: {self.detail}")


@dataclass(frozen=True)
class Client:
    server: str
    token: str | None = None

    def __post_init__(self) -> None:
        parsed = urllib.parse.urlsplit(self.server)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise UserError(f"--server {self.server!r}: must be an http:// or https:// URL")

    @property
    def insecure(self) -> bool:
        parsed = urllib.parse.urlsplit(self.server)
        return parsed.scheme == "http" and not is_loopback(parsed.hostname or "")

    def url(self, path: str, **query: str | None) -> str:
        args = urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        return self.server.rstrip("/") + path + (f"?{args}" if args else "")

    def call(self, method: str, path: str, *, body: Any = None, headers: dict[str, str] | None = None,
             **query: str | None) -> tuple[int, Any]:
        request = urllib.request.Request(self.url(path, **query), data=body, method=method,
                                         headers={"Accept": "application/json", **(headers or {})})
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 - http(s) only
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise ServerError(exc.code, _detail(exc)) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            if body is not None and isinstance(reason, (BrokenPipeError, ConnectionResetError)):
                raise ServerError(413, "the server closed the connection while the bundle was being sent "
                                       "(larger than its upload limit?)") from None
            raise UserError(f"{self.server}: cannot reach the server ({one_line(str(reason))})") from None

    def upload(self, archive: Path, track: str | None) -> dict[str, Any]:
        media = "application/zip" if archive.name.lower().endswith(".zip") else "application/gzip"
        with open(archive, "rb") as body:
            return self.call("POST", "/api/v1/submissions", body=body, track=track,
                             headers={"Content-Type": media, "Content-Length": str(archive.stat().st_size)})[1]


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        doc = json.loads(exc.read(65536) or b"{}")
    except (ValueError, OSError):
        return exc.reason or "no detail"
    detail = doc.get("detail") if isinstance(doc, dict) else None
    return detail if isinstance(detail, str) else json.dumps(detail)[:500] if detail else str(exc.reason)


def _archive(path: Path, tmp: Path) -> Path:
    """The bundle at ``path`` as an archive to send (verified here first)."""
    with open_bundle(path):
        pass
    if path.is_dir():
        return make_archive(path, tmp / f"{path.resolve().name}.tar.gz")
    if not is_archive(path):
        raise BundleError(path, "not_a_bundle", "expected a bundle folder or a .tar.gz / .tgz / .zip archive")
    return path


def submit(paths: Sequence[Path], client: Client, *, track: str | None = None,
           echo: Callable[[str], None] = print) -> tuple[list[dict[str, Any]], int]:
    """Send each bundle; (what the server accepted, how many were refused)."""
    accepted: list[dict[str, Any]] = []
    refused = 0
    limit_mb: float | None = None
    for path in paths:
        with tempfile.TemporaryDirectory(prefix="request-dse-submit-") as tmp:
            try:
                packed = _archive(path, Path(tmp))
                if limit_mb is None:
                    limit_mb = float(client.call("GET", "/api/v1/tournament")[1]["limits"]["upload_mb"])
                size = packed.stat().st_size
                if size > limit_mb * 2**20:
                    echo(f"{path}: refused before sending: {size / 2**20:.1f} MiB, more than the server's upload "
                         f"limit of {limit_mb:g} MiB")
                    refused += 1
                    continue
                result = client.upload(packed, track)
            except BundleError as exc:
                echo(f"{path}: refused before sending: {one_line(str(exc))}")
                refused += 1
                continue
            except ServerError as exc:
                echo(f"{path}: refused by the server (HTTP {exc.status}): {exc.detail}")
                refused += 1
                continue
        accepted.append(result)
        page = client.url(str(result["url"]))
        if result["duplicate"]:
            echo(f"{path}: already entry {result['entry']} on track {result['track']} (sent before): {page}")
        else:
            echo(f"{path}: accepted as entry {result['entry']} on track {result['track']}; validation job "
                 f"{result['job']} queued: {page}")
    return accepted, refused


def wait_for(client: Client, entry_ids: Sequence[str], timeout_s: float, echo: Callable[[str], None] = print,
             poll_s: float = 2.0) -> dict[str, str]:
    """Wait until every entry's badge is no longer pending; entry -> badge (pending if out of time)."""
    badges = dict.fromkeys(entry_ids, "pending")
    deadline = time.monotonic() + timeout_s
    while True:
        for eid in [e for e, b in badges.items() if b == "pending"]:
            doc = client.call("GET", f"/api/v1/entries/{eid}")[1]
            if doc["badge"] != "pending":
                badges[eid] = doc["badge"]
                echo(f"entry {eid}: {doc['badge']}" + (f" ({one_line(doc['reason'])})" if doc["reason"] else ""))
        if all(b != "pending" for b in badges.values()) or time.monotonic() > deadline:
            return badges
        time.sleep(poll_s)
