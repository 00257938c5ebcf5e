"""Files shared by concurrent processes: one lock, atomic writes, create-once caches, digests.

Every lock of request-dse is :func:`lock`: an advisory lock on ``<path>.lock`` (``filelock``,
released by the kernel when its holder dies, so a killed process never leaves one behind).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def lock(path: Path, *, suffix: str = ".lock") -> Iterator[None]:
    """Hold the exclusive lock of ``path`` (the file ``<path><suffix>``) for the block."""
    from filelock import FileLock

    lock_path = Path(f"{path}{suffix}")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    # thread_local=False: threads of one process exclude each other like processes do;
    # no soft-lock fallback: a lock the kernel does not release when its holder dies would outlive it
    with FileLock(lock_path, thread_local=False, fallback_to_soft=False):
        yield


def write_atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` then rename ``tmp`` over ``path``: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def cached(path: Path, create: Callable[[Path], None]) -> Path:
    """``path`` if it exists, else created once even when several processes ask at once."""
    from request_dse.cachedir import touch

    if path.exists():
        touch(path)  # least recently used entries are evicted first
        return path
    with lock(path):
        if not path.exists():
            write_atomic(path, create)
    return path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
