"""Optuna storage, the source of truth of a study, and its trials read back as records.

A study's trials carry their outcome in user attributes (status, metrics, error, file paths),
so everything that reports on a study (``report``, tracking, submissions) reads the storage and
never re-runs anything. The default storage is Optuna's JournalStorage in a file in the study's
work dir: safe for several processes, and an order of magnitude cheaper per trial than SQLite
(see benchmarks/RESULTS.md). Any SQLAlchemy URL (``sqlite:///...``, ``postgresql://...``) works too.
"""

from __future__ import annotations

import contextlib
import os
import socket
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from request_dse.errors import UserError

# user attribute names
STATUS, METRICS, ERROR, HASH, SKIP, DUPLICATE_OF, CACHED, OWNER, PATHS, INFO, TIMINGS, REQUEUED = (
    "status", "metrics", "error", "hash", "skip", "duplicate_of", "cached", "owner", "paths", "info", "timings",
    "requeued_from")


def quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def open_storage(url: str) -> Any:
    """``journal:<file>``, ``memory`` (this process only, gone at exit), or any SQLAlchemy URL."""
    import optuna
    from optuna.storages.journal import JournalFileOpenLock

    from request_dse.journal import AtomicJournalFileBackend

    quiet_optuna()
    if url == "memory":
        return optuna.storages.InMemoryStorage()
    if url.startswith("journal:"):
        path = Path(url[len("journal:"):])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            backend = AtomicJournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
        except OSError as exc:
            raise UserError(f"{path}: cannot open the study's storage ({exc.strerror or exc})") from None
        from request_dse.journal_batch import BatchingJournalStorage

        return BatchingJournalStorage(backend)
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        # Creating the schema is not atomic in SQLite: processes opening a new file at once
        # would race ("table studies already exists"); the first creates it, the rest wait.
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with _file_lock(path.with_name(path.name + ".lock")):
                return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
        except OSError as exc:
            raise UserError(f"{path}: cannot open the study's storage ({exc.strerror or exc})") from None
    for attempt in range(5):
        try:
            return optuna.storages.RDBStorage(url)
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises many kinds
            # Drivers creating the schema of a new database at once collide (PostgreSQL:
            # "duplicate key value violates unique constraint"); the loser finds it made.
            if type(exc).__name__ in ("IntegrityError", "ProgrammingError") and attempt < 4:
                import time

                time.sleep(0.5 * (attempt + 1))
                continue
            raise UserError(f"storage {url!r}: cannot connect ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    import fcntl

    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def owner_id() -> str:
    """host:pid:start-time of this process (tells a dead owner from a reused pid)."""
    import psutil

    return f"{socket.gethostname()}:{os.getpid()}:{psutil.Process().create_time():.2f}"


def owner_alive(owner: str | None) -> bool:
    """Whether the process that ran a trial still runs (unknown hosts count as alive)."""
    import psutil

    if not owner:
        return False
    host, _, rest = owner.partition(":")
    if host != socket.gethostname():
        return True
    pid, _, started = rest.partition(":")
    try:
        return abs(psutil.Process(int(pid)).create_time() - float(started)) < 0.5
    except (psutil.Error, ValueError):
        return False


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the study's storage holds it."""

    number: int
    state: str
    status: str
    params: Mapping[str, Any]
    hash: str | None
    metrics: Mapping[str, float] = field(default_factory=dict)
    error: str = ""
    skip: str | None = None
    duplicate_of: int | None = None
    cached: bool = False
    paths: Mapping[str, str] = field(default_factory=dict)
    info: Mapping[str, Any] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)
    constraints: Mapping[str, float] = field(default_factory=dict)
    started: Any = None
    finished: Any = None
    owner: str | None = None

    @property
    def measured(self) -> bool:
        """A candidate's own, complete result (not a skipped proposal, not an interrupted run, not
        a result another process is still writing: storages without batched writes, like SQLite,
        show a trial's attributes one by one before its state)."""
        return self.skip is None and self.status not in ("", "interrupted") and self.state != "RUNNING"


def record(trial: Any) -> TrialRecord:
    attrs = trial.user_attrs
    return TrialRecord(
        number=trial.number, state=trial.state.name, status=attrs.get(STATUS, ""), params=dict(trial.params),
        hash=attrs.get(HASH), metrics=attrs.get(METRICS, {}), error=attrs.get(ERROR, ""), skip=attrs.get(SKIP),
        duplicate_of=attrs.get(DUPLICATE_OF), cached=bool(attrs.get(CACHED)), paths=attrs.get(PATHS, {}),
        info=attrs.get(INFO, {}), timings=attrs.get(TIMINGS, {}), constraints=dict(trial.constraints),
        started=trial.datetime_start, finished=trial.datetime_complete, owner=attrs.get(OWNER),
    )


def batched(study: Any) -> contextlib.AbstractContextManager[None]:
    """Writes to the study's storage inside the block go out together (one journal append)."""
    batch = getattr(study._storage, "batch", None)
    return batch() if batch is not None else contextlib.nullcontext()


def records(study: Any) -> list[TrialRecord]:
    return [record(t) for t in study.get_trials(deepcopy=False)]


def load_existing(storage_url: str, name: str) -> Any:
    """An existing study, or a UserError when there is none."""
    import optuna

    if storage_url.startswith("journal:") and not Path(storage_url[len("journal:"):]).exists():
        raise UserError(f"study {name!r} has not been run yet (no storage at {storage_url[len('journal:'):]})")
    storage = open_storage(storage_url)
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise UserError(f"study {name!r} has not been run yet (not in storage {storage_url})") from None


def measured_records(all_records: Sequence[TrialRecord]) -> list[TrialRecord]:
    return [r for r in all_records if r.measured]
