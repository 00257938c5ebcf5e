"""Files shared by concurrent processes: one lock, atomic writes, create-once caches, digests.

Every lock of request-dse is :func:`lock`: an advisory lock on ``<path>.lock`` (``filelock``,
released by the kernel when its holder dies, so a killed process never leaves one behind).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

#: The temporary file of :func:`write_atomic`: ``.<name>.tmp-<host>-<pid>-<random><suffix>``,
#: next to its target; the writer's host and pid tell a dead writer's leftover from a live one's.
_TEMP = re.compile(r"^\..+\.tmp-(?P<host>[^-/]*)-(?P<pid>\d+)-[^/]*$")
#: A temporary file of another host (or of an older release) is removed only after this long.
STALE_TEMP_S = 24 * 3600.0


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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-{_host()}-{os.getpid()}-",
                               suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _host() -> str:
    return socket.gethostname().replace("-", "_").replace("/", "_")


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (one we may not signal counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_temp(path: Path, now: float | None = None) -> bool:
    """Whether ``path`` is a temporary file of :func:`write_atomic` that no live writer will finish:
    its writer (on this host) is gone, or it is older than :data:`STALE_TEMP_S`."""
    name = path.name
    if not name.startswith("."):
        return False
    match = _TEMP.match(name)
    if match is not None and match["host"] == _host() and int(match["pid"]) != os.getpid() \
            and not pid_alive(int(match["pid"])):
        return True
    try:
        age = (now or time.time()) - path.stat().st_mtime
    except OSError:
        return False
    # another host's, or one named before writers were recorded (".<name>.<random><suffix>")
    return age > STALE_TEMP_S and (match is None or match["host"] != _host())


def sweep_temp(root: Path) -> int:
    """Remove the temporary files that killed writers left under ``root``; returns how many."""
    removed = 0
    if not root.is_dir():
        return 0
    now = time.time()
    for path in root.rglob(".*"):
        if path.is_file() and not path.name.endswith(".lock") and stale_temp(path, now):
            try:
                path.unlink()
                removed += 1
            except OSError:
                continue
    return removed


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
