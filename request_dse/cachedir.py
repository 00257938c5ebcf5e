"""The shared cache folder, and its size limit, enforced by evicting the least recently used entries.

The cache root (:func:`cache_root`: ``$REQUEST_DSE_CACHE``, default ``~/.cache/request-dse``) holds
prepared models, the results cache, MetaSchedule tuning databases and the candidates' software
environments (``envs``, with the locks they were resolved to in ``env-locks``). Every hit refreshes
its entry's modification time, so the oldest modification time marks the least recently used
entry. An entry is a file, except under the folders in :data:`UNIT_DIRS`, where each child folder
(one tuning database, one software environment) is one entry: it is evicted whole or not at all.
Entries used in the last :data:`MIN_AGE_S` seconds are never evicted, so a build of a running
study keeps what it is using.

The limit is ``$REQUEST_DSE_CACHE_MAX_MB`` (default :data:`DEFAULT_MAX_MB`); ``tune`` applies
it when a study ends, ``request-dse cache prune`` on demand.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from request_dse.errors import UserError

DEFAULT_MAX_MB = 5120
MAX_MB = 1 << 30  # a petabyte: more than any disk, and still an exact integer of bytes
UNIT_DIRS = ("metaschedule", "envs")
MIN_AGE_S = 600.0
ENV = "REQUEST_DSE_CACHE_MAX_MB"


@dataclass(frozen=True)
class Entry:
    path: Path
    size: int
    used: float  # newest modification time in the entry


@dataclass(frozen=True)
class Pruned:
    entries: int
    bytes_before: int
    bytes_freed: int
    limit: int


def cache_root() -> Path:
    """Shared caches (prepared models, results, tuning databases): $REQUEST_DSE_CACHE or ~/.cache.

    Raises :class:`UserError` when that path exists but is not a folder, or when the size limit
    (:func:`max_bytes`) is not a valid number: both are checked whenever the cache is used."""
    env = os.environ.get("REQUEST_DSE_CACHE")
    root = Path(env) if env else Path.home() / ".cache" / "request-dse"
    if root.exists() and not root.is_dir():
        where = "$REQUEST_DSE_CACHE" if env else "the cache folder"
        raise UserError(f"{where}: {root} is not a folder (point it at a folder, or at a path that does not exist yet)")
    max_bytes()
    return root


def max_bytes() -> int:
    text = os.environ.get(ENV)
    if text is None:
        return DEFAULT_MAX_MB << 20
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"${ENV}: must be a number of megabytes; got {text!r}") from None
    if not math.isfinite(value) or value < 0 or value > MAX_MB:
        raise UserError(f"${ENV}: must be a finite number of megabytes in [0, {MAX_MB}]; got {text!r}")
    return int(value * (1 << 20))


def touch(path: Path) -> None:
    """Mark ``path`` as used now (best effort: a read-only cache still works)."""
    try:
        os.utime(path)
    except OSError:
        pass


def entries(root: Path) -> Iterator[Entry]:
    if not root.is_dir():
        return
    for area in sorted(p for p in root.iterdir() if p.is_dir()):
        if area.name in UNIT_DIRS:
            for unit in sorted(area.iterdir()):
                if unit.is_dir():
                    files = [f for f in unit.rglob("*") if f.is_file()]
                    stats = [f.stat() for f in files]
                    yield Entry(unit, sum(s.st_size for s in stats), max((s.st_mtime for s in stats),
                                                                         default=unit.stat().st_mtime))
            continue
        for f in area.rglob("*"):
            if f.is_file() and not f.name.endswith(".lock") and not f.name.startswith("."):
                st = f.stat()
                yield Entry(f, st.st_size, st.st_mtime)


def prune(root: Path, limit: int | None = None, *, min_age_s: float = MIN_AGE_S) -> Pruned:
    """Evict least recently used entries until the cache holds at most ``limit`` bytes."""
    limit = max_bytes() if limit is None else limit
    found = list(entries(root))
    total = sum(e.size for e in found)
    freed = count = 0
    now = time.time()
    for entry in sorted(found, key=lambda e: e.used):
        if total - freed <= limit:
            break
        if now - entry.used < min_age_s:
            break  # everything after it is newer still
        try:
            if entry.path.is_dir():
                shutil.rmtree(entry.path)
            else:
                entry.path.unlink()
                lock = entry.path.with_name(entry.path.name + ".lock")
                if lock.exists():
                    lock.unlink()
        except FileNotFoundError:
            pass  # another process evicted it first
        except OSError:
            continue
        freed += entry.size
        count += 1
    return Pruned(count, total, freed, limit)
