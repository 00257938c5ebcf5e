"""Every use of Optuna's private API, in one place, checked against the versions it was written for.

* :class:`AtomicJournalFileBackend` -- Optuna's journal file written all-or-nothing: an append
  that fails (a full disk, a killed writer) is cut off again, and a torn last line left by a
  killed writer is removed before the next append, so the study always loads. (Uses the file
  backend's ``_file_path`` and ``_lock``.)
* :class:`BatchingJournalStorage` -- JournalStorage with batched writes: inside
  :meth:`~BatchingJournalStorage.batch` the entries a thread writes are appended together (one
  lock, one sync to disk), so other processes see them all at once, in order, or not at all
  (a block that raises writes nothing). Reads inside the block do not see the block's own
  writes yet. It also keeps each study's trials in lists by number and by state, updated
  from the entries as they are read, so reading a study's trials costs a list copy instead of
  a scan of every trial, and it records which trials changed (:meth:`~BatchingJournalStorage.changes`),
  so a reader can follow a study by what changed. (Uses ``_write_log``, ``_replay_result``
  with its ``_trials``, ``_studies`` and ``_trial_id_to_study_id``, ``_thread_lock``,
  ``_backend`` and ``_sync_with_backend``.)
* :func:`batched` and :func:`set_trial_user_attr` -- a study's storage (``study._storage``) and a
  finished trial's id (``trial._trial_id``).
* :func:`ask_for` -- a trial whose parameters are given (``trial._fixed_params``), without
  enqueueing it: no other process can take it.
* :func:`changes` -- the trials that changed since the last look: the journal's change list, or
  a database's new and unfinished trials (``RDBStorage._get_trials``).

:data:`INTERNALS` lists each private name; ``tests/search/test_optuna_internals.py`` checks they
exist, and ``pyproject.toml`` bounds the optuna version to releases known to have them.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import json
import operator
import os
import threading
from collections.abc import Container, Iterable, Iterator, Mapping
from typing import Any

from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import FrozenTrial, TrialState

#: (object, attribute) of every private name used here.
INTERNALS = (("JournalFileBackend", "_file_path"), ("JournalFileBackend", "_lock"),
             ("JournalStorage", "_write_log"), ("JournalStorage", "_replay_result"),
             ("JournalStorage", "_thread_lock"), ("JournalStorage", "_backend"),
             ("JournalStorage", "_sync_with_backend"), ("JournalStorageReplayResult", "_trials"),
             ("JournalStorageReplayResult", "_studies"), ("JournalStorageReplayResult", "_trial_id_to_study_id"),
             ("JournalStorageReplayResult", "log_number_read"), ("Study", "_storage"), ("Study", "_study_id"),
             ("FrozenTrial", "_trial_id"), ("Trial", "_fixed_params"), ("RDBStorage", "_get_trials"))

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


class _StudyTrials:
    """One study's trials: by number, and by state (numbers ascending)."""

    def __init__(self) -> None:
        self.by_number: list[FrozenTrial] = []
        self.states: list[TrialState] = []
        self.numbers: dict[TrialState, list[int]] = {}
        self.trials: dict[TrialState, list[FrozenTrial]] = {}

    def put(self, trial: FrozenTrial) -> None:
        n, state = trial.number, trial.state
        if n == len(self.by_number):
            self.by_number.append(trial)
            self.states.append(state)
            old = None
        else:
            self.by_number[n] = trial
            old, self.states[n] = self.states[n], state
        numbers = self.numbers.setdefault(state, [])
        trials = self.trials.setdefault(state, [])
        if old == state:
            trials[bisect.bisect_left(numbers, n)] = trial
            return
        if old is not None:
            i = bisect.bisect_left(self.numbers[old], n)
            del self.numbers[old][i], self.trials[old][i]
        i = bisect.bisect_left(numbers, n)
        numbers.insert(i, n)
        trials.insert(i, trial)

    def get(self, states: Container[TrialState] | None) -> list[FrozenTrial]:
        if states is None:
            return list(self.by_number)
        parts = [self.trials[s] for s in self.trials if s in states and self.trials[s]]
        if len(parts) == 1:
            return list(parts[0])
        return sorted((t for part in parts for t in part), key=operator.attrgetter("number"))


def _observed(logs: Iterable[dict[str, Any]], replay: Any, touched: list[int]) -> Iterator[dict[str, Any]]:
    """The entries, noting the id of the trial each touches (a new trial's: the next id)."""
    for log in logs:
        touched.append(log["trial_id"] if "trial_id" in log else len(replay._trials))
        yield log


class BatchingJournalStorage(JournalStorage):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._pending = threading.local()
        self._studies: dict[int, _StudyTrials] = {}
        self._changes: list[int] = []  # ids of the trials that changed, in the order their entries were read
        super().__init__(*args, **kwargs)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Collect this thread's writes in the block; append them together at its end (when the
        block raised, nothing is written: the block is all or nothing)."""
        if getattr(self._pending, "logs", None) is not None:  # nested: the outer block appends
            yield
            return
        self._pending.logs = []
        try:
            yield
        except BaseException:
            self._pending.logs = None
            raise
        logs, self._pending.logs = self._pending.logs, None
        if logs:
            with self._thread_lock:
                self._backend.append_logs(logs)
                self._sync_with_backend()

    # -- reading: trials by state, and what changed ---------------------------------------------
    def _sync_with_backend(self) -> None:
        """Read the new entries. One of this process's own that the journal rejects (a write to a
        trial another process finished first) raises once, after every entry is read: a
        rejected block raises at its end, not again at later reads."""
        replay = self._replay_result
        rejected: Exception | None = None
        while True:
            touched: list[int] = []
            try:
                replay.apply_logs(_observed(self._backend.read_logs(replay.log_number_read), replay, touched))
                break
            except (UpdateFinishedTrialError, KeyError) as exc:  # the entry is skipped: read on
                rejected = rejected or exc
            finally:
                self._observe(dict.fromkeys(touched))
        if rejected is not None:
            raise rejected

    def _observe(self, trial_ids: Iterable[int]) -> None:
        replay = self._replay_result
        for trial_id in trial_ids:
            trial = replay._trials.get(trial_id)
            study_id = replay._trial_id_to_study_id.get(trial_id)
            if trial is None or study_id is None:
                continue
            if study_id not in replay._studies:
                self._studies.pop(study_id, None)
                continue
            self._studies.setdefault(study_id, _StudyTrials()).put(trial)
            self._changes.append(trial_id)

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        with self._thread_lock:
            self._sync_with_backend()
            if study_id not in self._replay_result._studies:
                raise KeyError(f"no study with id {study_id}")
            trials = self._studies[study_id].get(states) if study_id in self._studies else []
        return copy.deepcopy(trials) if deepcopy else trials

    def changes(self, study_id: int, cursor: int) -> tuple[int, list[FrozenTrial]]:
        """The trials of ``study_id`` that changed since ``cursor`` (0: every trial), each once,
        as they are now; and the cursor to pass next time."""
        with self._thread_lock:
            self._sync_with_backend()
            ids = dict.fromkeys(self._changes[cursor:])
            replay = self._replay_result
            trials = [replay._trials[i] for i in ids if replay._trial_id_to_study_id.get(i) == study_id]
            return len(self._changes), sorted(trials, key=operator.attrgetter("number"))

    def _write_log(self, op_code: int, extra_fields: dict[str, Any]) -> None:
        logs = getattr(self._pending, "logs", None)
        if logs is None:
            super()._write_log(op_code, extra_fields)
        else:
            logs.append({"op_code": op_code, "worker_id": self._replay_result.worker_id, **extra_fields})

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        for name in ("_pending", "_studies", "_changes"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        self._pending = threading.local()
        self._studies, self._changes = {}, []


def batched(study: Any) -> contextlib.AbstractContextManager[None]:
    """Writes to the study's storage inside the block go out together (one journal append)."""
    batch = getattr(study._storage, "batch", None)
    return batch() if batch is not None else contextlib.nullcontext()


def set_trial_user_attr(study: Any, trial: Any, key: str, value: Any) -> None:
    """Set a user attribute of any trial of ``study`` (also one this process did not ask for)."""
    study._storage.set_trial_user_attr(trial._trial_id, key, value)


def ask_for(study: Any, params: Mapping[str, Any]) -> Any:
    """A new trial of ``study`` whose parameters are ``params`` (the sampler is not asked)."""
    trial = study.ask()
    trial._fixed_params = dict(params)
    return trial


def changes(study: Any, cursor: Any) -> tuple[Any, list[Any]]:
    """The study's trials that may have changed since ``cursor`` (None: all of them), as they are
    now, and the cursor for next time. The journal names the trials that changed; a database is
    asked for the new trials and the unfinished ones (``RDBStorage._get_trials``); any other
    storage answers every trial."""
    from optuna.storages import RDBStorage

    storage = study._storage
    if isinstance(storage, BatchingJournalStorage):
        return storage.changes(study._study_id, cursor or 0)
    if isinstance(storage, RDBStorage):
        last, unfinished = cursor or (-1, frozenset())
        trials = storage._get_trials(study._study_id, None, set(unfinished), last)
        last = max([last, *(t._trial_id for t in trials)])
        return (last, frozenset(t._trial_id for t in trials if not t.state.is_finished())), trials
    return None, study.get_trials(deepcopy=False)


def trial_id(study: Any, number: int) -> int:
    """The storage's id of trial ``number`` of ``study``."""
    return study._storage.get_trial_id_from_study_id_trial_number(study._study_id, number)  # type: ignore[no-any-return]
