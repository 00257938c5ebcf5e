"""Every use of Optuna's private API, in one place, checked against the versions it was written for.

* :class:`AtomicJournalFileBackend` -- Optuna's journal file written all-or-nothing: an append
  that fails (a full disk, a killed writer) is cut off again, and a torn last line left by a
  killed writer is removed before the next append, so the study always loads. (Uses the file
  backend's ``_file_path`` and ``_lock``.)
* :class:`BatchingJournalStorage` -- JournalStorage with batched writes: inside
  :meth:`~BatchingJournalStorage.batch` the entries a thread writes are appended together (one
  lock, one sync to disk), so other processes see them all at once, in order, or not at all.
  Reads inside the block do not see the block's own writes yet. (Uses ``_write_log``,
  ``_replay_result``, ``_thread_lock``, ``_backend`` and ``_sync_with_backend``.)
* :func:`batched` and :func:`set_trial_user_attr` -- a study's storage (``study._storage``) and a
  finished trial's id (``trial._trial_id``).

:data:`INTERNALS` lists each private name; ``tests/search/test_optuna_internals.py`` checks they
exist, and ``pyproject.toml`` bounds the optuna version to releases known to have them.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from typing import Any

from optuna.storages.journal import JournalFileBackend, JournalStorage

#: (object, attribute) of every private name used here.
INTERNALS = (("JournalFileBackend", "_file_path"), ("JournalFileBackend", "_lock"),
             ("JournalStorage", "_write_log"), ("JournalStorage", "_replay_result"),
             ("JournalStorage", "_thread_lock"), ("JournalStorage", "_backend"),
             ("JournalStorage", "_sync_with_backend"), ("Study", "_storage"), ("FrozenTrial", "_trial_id"))

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


class BatchingJournalStorage(JournalStorage):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending = threading.local()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Collect this thread's writes in the block; append them together at its end."""
        if getattr(self._pending, "logs", None) is not None:  # nested: the outer block appends
            yield
            return
        self._pending.logs = []
        try:
            yield
        finally:
            logs, self._pending.logs = self._pending.logs, None
            if logs:
                with self._thread_lock:
                    self._backend.append_logs(logs)
                    self._sync_with_backend()

    def _write_log(self, op_code: int, extra_fields: dict[str, Any]) -> None:
        logs = getattr(self._pending, "logs", None)
        if logs is None:
            super()._write_log(op_code, extra_fields)
        else:
            logs.append({"op_code": op_code, "worker_id": self._replay_result.worker_id, **extra_fields})

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        state.pop("_pending", None)
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        self._pending = threading.local()


def batched(study: Any) -> contextlib.AbstractContextManager[None]:
    """Writes to the study's storage inside the block go out together (one journal append)."""
    batch = getattr(study._storage, "batch", None)
    return batch() if batch is not None else contextlib.nullcontext()


def set_trial_user_attr(study: Any, trial: Any, key: str, value: Any) -> None:
    """Set a user attribute of any trial of ``study`` (also one this process did not ask for)."""
    study._storage.set_trial_user_attr(trial._trial_id, key, value)
