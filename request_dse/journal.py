"""Optuna's journal file, written all-or-nothing.

Optuna's :class:`~optuna.storages.journal.JournalFileBackend` appends each batch of log lines
with one ``write``. When the disk fills up (or the process is killed) in the middle of it, half a
line stays at the end of the file; the next append lands after it, and from then on the whole
study fails to load ("Invalid log format"). This backend keeps the journal readable:

* an append that fails is cut off again (the file is truncated to its size before the append),
  so a full disk costs the trial being told, never the trials already recorded;
* a torn last line left by a killed writer is removed before the next append (no reader has
  ever returned it: Optuna skips a last line without its newline).
"""

from __future__ import annotations

import json
import os
from typing import Any

from optuna.storages.journal import JournalFileBackend

_CHUNK = 4096


class AtomicJournalFileBackend(JournalFileBackend):
    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        data = ("\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n").encode("utf-8")
        path = self._file_path  # type: ignore[attr-defined]
        lock = self._lock  # type: ignore[attr-defined]
        while not lock.acquire():
            pass
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                size = _cut_torn_tail(fd, os.lseek(fd, 0, os.SEEK_END))
                try:
                    _write_all(fd, data, size)
                    os.fsync(fd)
                except OSError:
                    os.ftruncate(fd, size)  # all or nothing
                    raise
            finally:
                os.close(fd)
        finally:
            lock.release()


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _cut_torn_tail(fd: int, size: int) -> int:
    """Truncate an unfinished last line; returns the file's size after it."""
    end = size
    while end > 0:
        start = max(0, end - _CHUNK)
        chunk = os.pread(fd, end - start, start)
        if end == size and chunk.endswith(b"\n"):
            return size
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            keep = start + newline + 1
            os.ftruncate(fd, keep)
            return keep
        end = start
    if size:
        os.ftruncate(fd, 0)
    return 0
