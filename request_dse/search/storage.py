"""Optuna storage, the source of truth of a study, and its trials read back as records.

A study's trials carry their outcome in user attributes (status, metrics, error, file paths),
so everything that reports on a study (``report``, tracking, submissions) reads the storage and
never re-runs anything. The default storage is Optuna's JournalStorage in a file in the study's
work dir: safe for several processes, and an order of magnitude cheaper per trial than SQLite
(see benchmarks/RESULTS.md). Any SQLAlchemy URL (``sqlite:///...``, ``postgresql://...``) works too.
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from request_dse.errors import UserError
from request_dse.files import lock
from request_dse.results import TrialRecord
from request_dse.search._optuna import AtomicJournalFileBackend, BatchingJournalStorage
from request_dse.study import Plan

# user attribute names
STATUS, METRICS, ERROR, HASH, SKIP, DUPLICATE_OF, CACHED, OWNER, PATHS, INFO, TIMINGS, REQUEUED = (
    "status", "metrics", "error", "hash", "skip", "duplicate_of", "cached", "owner", "paths", "info", "timings",
    "requeued_from")
#: A running trial's judging estimate while its other sessions wait (``early_stop.defer``): its
#: objective values, in the study's order, which the default sampler learns from at once.
ESTIMATE = "estimate"


def quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def open_storage(url: str) -> Any:
    """``journal:<file>``, ``memory`` (this process only, gone at exit), or any SQLAlchemy URL."""
    import optuna
    from optuna.storages.journal import JournalFileOpenLock

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
        return BatchingJournalStorage(backend)
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        # Creating the schema is not atomic in SQLite: processes opening a new file at once
        # would race ("table studies already exists"); the first creates it, the rest wait.
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with lock(path):
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
                time.sleep(0.5 * (attempt + 1))
                continue
            raise UserError(f"storage {url!r}: cannot connect ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None


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


def record(trial: Any) -> TrialRecord:
    attrs = trial.user_attrs
    return TrialRecord(
        number=trial.number, state=trial.state.name, status=attrs.get(STATUS, ""), params=dict(trial.params),
        hash=attrs.get(HASH), metrics=attrs.get(METRICS, {}), error=attrs.get(ERROR, ""), skip=attrs.get(SKIP),
        duplicate_of=attrs.get(DUPLICATE_OF), cached=bool(attrs.get(CACHED)), paths=attrs.get(PATHS, {}),
        info=attrs.get(INFO, {}), timings=attrs.get(TIMINGS, {}), constraints=dict(trial.constraints),
        started=trial.datetime_start, finished=trial.datetime_complete, owner=attrs.get(OWNER),
    )


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


def open_study(plan: Plan, sampler: Any) -> Any:
    """The plan's study in its storage (created on first use), with ``sampler``; a UserError when
    the stored study optimizes other objectives or explores a changed dimension."""
    import optuna

    directions = [o.direction for o in plan.study.objectives]
    study = optuna.create_study(study_name=plan.name, storage=open_storage(plan.storage_url), directions=directions,
                                sampler=sampler, load_if_exists=True)
    if [d.name.lower() for d in study.directions] != directions:
        raise UserError(f"study {plan.name!r} in {plan.storage_url} was created with other objectives; "
                        "give the study another name or work_dir")
    names = study.user_attrs.get("objectives")
    if names is None:
        study.set_user_attr("objectives", list(plan.study.metric_names))
    elif list(names) != list(plan.study.metric_names):
        raise UserError(f"study {plan.name!r} in {plan.storage_url} optimizes {', '.join(names)}, not "
                        f"{', '.join(plan.study.metric_names)}; give the study another name or work_dir")
    check_space_unchanged(plan, study)
    return study


def check_space_unchanged(plan: Plan, study: Any) -> None:
    """Refuse to continue a study whose dimensions changed their domain since it started.

    Optuna cannot change the distribution of a parameter within one study (every proposal
    would fail); a dimension may be added or dropped, but not redefined.
    """
    current = {d.name: d for d in plan.space.dimensions}
    checked: set[str] = set()
    for trial in study.get_trials(deepcopy=False):
        for name, started in trial.distributions.items():
            if name in checked or name not in current:
                continue
            checked.add(name)
            now = current[name].to_optuna()
            if now != started:
                raise UserError(f"{plan.study.source}: space: dimension {name} is now {_domain(now)}, but study "
                                f"{plan.name!r} in {plan.storage_url} started with {_domain(started)}; a running "
                                "study cannot change a dimension: restore it, or give the study another name or work_dir")
        if len(checked) == len(current):
            return


def _domain(distribution: Any) -> str:
    choices = getattr(distribution, "choices", None)
    if choices is not None:
        return "[" + ", ".join(map(str, choices)) + "]"
    log = ", log" if getattr(distribution, "log", False) else ""
    step = f", step {distribution.step}" if getattr(distribution, "step", None) not in (None, 1) else ""
    return f"[{distribution.low} .. {distribution.high}{step}{log}]"
