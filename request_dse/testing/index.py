"""A package index on loopback: real wheels, served the way a registry serves them, so that the
installer (uv) resolves and installs them for real.

:func:`local_index` builds one small pure-Python wheel per (distribution, version), and serves
a PEP 503 simple index with PEP 658 metadata files: the installer resolves from the metadata
alone, and downloads a wheel only when it installs it. A version listed as ``missing`` has its
metadata but no wheel (404): it resolves, and fails to install -- a wheel missing for this
platform, or a registry that went away, seen from the installer.

Point uv at it with ``UV_EXTRA_INDEX_URL=<url>`` (other packages still come from the default
registry). Every request is counted in :attr:`LocalIndex.requests`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import threading
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel(dist: str, version: str, module: str, source: str) -> tuple[str, bytes, bytes]:
    """(file name, wheel bytes, metadata bytes) of a pure-Python wheel holding ``module``; the same
    bytes every time (a lock resolved against one index installs from another)."""
    info = f"{module}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode()
    tags = b"Wheel-Version: 1.0\nGenerator: request-dse tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files = {f"{module}/__init__.py": source.encode(), f"{info}/METADATA": metadata, f"{info}/WHEEL": tags}
    record = "".join(f"{name},sha256={_b64(data)},{len(data)}\n" for name, data in files.items()) + f"{info}/RECORD,,\n"
    files[f"{info}/RECORD"] = record.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():  # a fixed date: the same wheel, the same hash, in every index
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return f"{module}-{version}-py3-none-any.whl", buffer.getvalue(), metadata


@dataclass
class LocalIndex:
    url: str
    root: Path
    requests: Counter[str] = field(default_factory=Counter)


def _handler(index: LocalIndex) -> Any:
    class Handler(SimpleHTTPRequestHandler):
        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            index.requests[self.path] += 1

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            return None

    return partial(Handler, directory=str(index.root))


@contextlib.contextmanager
def local_index(root: Path, dist: str, module: str, versions: Iterable[str], missing: Iterable[str] = ()
                ) -> Iterator[LocalIndex]:
    """Serve ``dist`` at ``versions`` (``missing`` ones without their wheel) from ``root``."""
    gone = set(missing)
    (root / "files").mkdir(parents=True, exist_ok=True)
    links = []
    for version in [*versions, *sorted(gone)]:
        name, data, metadata = wheel(dist, version, module, f"__version__ = {version!r}\n")
        if version not in gone:
            (root / "files" / name).write_bytes(data)
        (root / "files" / f"{name}.metadata").write_bytes(metadata)
        digest = hashlib.sha256(metadata).hexdigest()
        links.append(f'<a href="/files/{name}#sha256={hashlib.sha256(data).hexdigest()}" '
                     f'data-dist-info-metadata="sha256={digest}" data-core-metadata="sha256={digest}">{name}</a>')
    page = root / "simple" / dist / "index.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n")
    (root / "simple" / "index.html").write_text(f'<html><body><a href="/simple/{dist}/">{dist}</a></body></html>\n')
    index = LocalIndex("", root)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(index))
    index.url = f"http://127.0.0.1:{server.server_address[1]}/simple"
    thread = threading.Thread(target=server.serve_forever, name="local-index", daemon=True)
    thread.start()
    try:
        yield index
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
