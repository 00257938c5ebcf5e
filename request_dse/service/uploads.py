"""An upload, before it is a bundle: streamed to disk under a size cap, then its archive checked
against the service's limits without unpacking it (member count, expanded size, path depth,
link and file kinds, size and nesting of the two JSON documents).

Only an archive that passes is handed to :func:`request_dse.submission.open_bundle`, which
extracts it safely and verifies checksums and schema. A refusal is an :class:`Refused`: an HTTP
status and one line, the same for the API and ``request-dse submit``.
"""

from __future__ import annotations

import asyncio
import gzip
import re
import struct
import tarfile
import zipfile
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import IO, Any

import numpy as np

from request_dse.service.tournament import Limits

JSON_DOCUMENTS = ("submission.json", "system.json")
MAX_JSON_BYTES = 1 << 20
MAX_JSON_DEPTH = 64
MAX_PATH_PARTS = 32
MAX_NAME_BYTES = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class Refused(Exception):
    """An upload or request the service refuses: ``status`` (HTTP) and one line saying why."""

    def __init__(self, status: int, message: str, unread: bool = False) -> None:
        self.status = status
        self.message = one_line(message)
        self.unread = unread  # the client was still sending (see :func:`drain`)
        super().__init__(self.message)


def one_line(text: str, limit: int = 2000) -> str:
    """``text`` with control characters (newlines, terminal escapes) shown as escapes, cut to ``limit``."""
    out = _CONTROL.sub(lambda m: repr(m.group(0))[1:-1], str(text))
    return out if len(out) <= limit else out[: limit - 3] + "..."


async def receive(chunks: AsyncIterator[bytes], dest: Path, cap: int) -> int:
    """Write ``chunks`` to ``dest``; refuse (413) as soon as they pass ``cap`` bytes. Returns the size."""
    size = 0
    with open(dest, "wb") as out:
        async for chunk in chunks:
            size += len(chunk)
            if size > cap:
                raise Refused(413, f"upload larger than the limit of {cap / 2**20:g} MiB", unread=True)
            out.write(chunk)
    if size == 0:
        raise Refused(400, "empty upload: send a bundle archive (.tar.gz or .zip) as the request body")
    return size


async def drain(receive: Callable[[], Awaitable[Mapping[str, Any]]], budget_bytes: int, budget_s: float = 5.0) -> None:
    """Read and drop what is left of a refused upload, up to ``budget_bytes`` and ``budget_s``, so
    that a client still sending reads the refusal rather than a reset connection (the lingering
    close web servers do); past the budget the connection is simply closed."""
    async def rest() -> None:
        seen = 0
        while seen <= budget_bytes:
            message = await receive()
            if message.get("type") != "http.request":
                return
            seen += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    try:
        await asyncio.wait_for(rest(), budget_s)
    except (asyncio.TimeoutError, OSError, RuntimeError):
        return


def archive_kind(path: Path) -> str:
    """``tar.gz``, ``tar`` or ``zip`` from the file's first bytes; anything else is refused."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head[:2] == b"\x1f\x8b":
        return "tar.gz"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    raise Refused(415, "not a bundle archive: expected a .tar.gz, .tar or .zip (the upload's first bytes say "
                       "otherwise)")


def json_depth(data: bytes) -> int:
    """How deeply brackets nest in a JSON text (strings skipped); cheap for a megabyte."""
    stripped = re.sub(rb'"(?:[^"\\]|\\.)*"', b'""', data)
    steps = np.zeros(256, dtype=np.int8)
    steps[[ord("["), ord("{")]] = 1
    steps[[ord("]"), ord("}")]] = -1
    walk = np.cumsum(steps[np.frombuffer(stripped, dtype=np.uint8)], dtype=np.int64)
    return int(walk.max()) if len(walk) else 0


class _Budget:
    def __init__(self, limits: Limits) -> None:
        self.limits, self.members, self.total = limits, 0, 0

    def member(self, name: str, size: int, kind: str) -> None:
        self.members += 1
        self.total += max(size, 0)
        if self.members > self.limits.members:
            raise Refused(413, f"archive has more than {self.limits.members} members (the limit of this tournament)")
        if self.total > self.limits.expanded_bytes:
            raise Refused(413, f"archive expands beyond {self.limits.expanded_mb:g} MiB (the limit of this tournament)")
        if len(name.encode("utf-8", "replace")) > MAX_NAME_BYTES or len(PurePosixPath(name).parts) > MAX_PATH_PARTS:
            raise Refused(422, f"member {name!r}: path longer than {MAX_NAME_BYTES} bytes or deeper than "
                               f"{MAX_PATH_PARTS} folders")
        if kind not in ("file", "dir", "link"):
            raise Refused(422, f"member {name!r} is a {kind}: only files, folders and links inside the bundle")
        base = PurePosixPath(name).name
        if kind == "file" and base in JSON_DOCUMENTS and len(PurePosixPath(name).parts) <= 2 and size > MAX_JSON_BYTES:
            raise Refused(413, f"{name}: {size} bytes, more than the {MAX_JSON_BYTES} a bundle document may have")


def _document(name: str, data: bytes) -> None:
    depth = json_depth(data)
    if depth > MAX_JSON_DEPTH:
        raise Refused(422, f"{name}: JSON nested {depth} deep (at most {MAX_JSON_DEPTH})")


class _Capped:
    """A reader that refuses once more than ``cap`` bytes came out of it (a decompression bomb)."""

    def __init__(self, raw: IO[bytes], cap: int) -> None:
        self.raw, self.cap, self.done = raw, cap, 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.done += len(data)
        if self.done > self.cap:
            raise Refused(413, f"archive expands beyond {self.cap / 2**20:g} MiB (the limit of this tournament)")
        return data


def _check_tar(path: Path, limits: Limits, compressed: bool) -> None:
    budget = _Budget(limits)
    # tar headers and padding add at most 1.5 KiB per member to the content
    cap = limits.expanded_bytes + 1536 * (limits.members + 2)
    with open(path, "rb") as raw:
        stream = _Capped(gzip.GzipFile(fileobj=raw) if compressed else raw, cap)
        with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
            for m in tar:
                kind = "file" if m.isfile() else "dir" if m.isdir() else "link" if (m.issym() or m.islnk()) \
                    else "device or fifo"
                budget.member(m.name, m.size, kind)
                if kind == "file" and PurePosixPath(m.name).name in JSON_DOCUMENTS:
                    reader = tar.extractfile(m)
                    if reader is not None:
                        _document(m.name, reader.read(MAX_JSON_BYTES + 1))


def _zip_count(path: Path) -> int:
    """The member count the end-of-central-directory record declares (before reading the directory)."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 65_557))
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        raise Refused(422, "truncated or corrupt zip archive (no end of central directory)")
    if tail.rfind(b"PK\x06\x07") >= 0:
        raise Refused(422, "zip64 archives are not accepted (a bundle is far below 4 GiB)")
    return int(struct.unpack("<H", tail[at + 10: at + 12])[0])


def _check_zip(path: Path, limits: Limits) -> None:
    if _zip_count(path) > limits.members:
        raise Refused(413, f"archive has more than {limits.members} members (the limit of this tournament)")
    budget = _Budget(limits)
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            mode = (info.external_attr >> 16) & 0o170000
            kind = "dir" if info.is_dir() else "link" if mode == 0o120000 else "file" if mode in (0, 0o100000) \
                else "device or fifo"
            budget.member(info.filename, info.file_size, kind)
            if kind == "file" and PurePosixPath(info.filename).name in JSON_DOCUMENTS:
                with z.open(info) as reader:
                    _document(info.filename, reader.read(MAX_JSON_BYTES + 1))


def check_archive(path: Path, limits: Limits) -> str:
    """Refuse an archive beyond ``limits`` or of an unknown format; returns its kind."""
    kind = archive_kind(path)
    try:
        if kind == "zip":
            _check_zip(path, limits)
        else:
            _check_tar(path, limits, compressed=kind == "tar.gz")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError) as exc:
        raise Refused(422, f"truncated or corrupt {kind} archive ({type(exc).__name__}: {exc})") from None
    return kind
