"""Optuna's JournalStorage with batched writes: one append (one lock, one sync to disk) per block.

Telling one trial writes about ten journal entries (its user attributes, constraints, state);
each ``append`` takes the file lock and is synced to disk (:mod:`request_dse.journal`), which
costs milliseconds apiece. Inside :meth:`BatchingJournalStorage.batch` the entries a thread
writes are collected and appended together when the block ends, so other processes see them
all at once, in order, or not at all. Reads inside the block do not see the block's own
writes yet; the search only batches writes it does not read back before the block ends.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from optuna.storages.journal import JournalStorage


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
