"""The software environment a trial ran in, recorded with its result.

Every trial records the lock of its environment: its id, Python and exact versions in the
result's ``info["environment"]`` (and so in the study's storage), the full lock (hashes included)
in ``environment.lock`` beside the trial's other files, from where tracking sends it to MLflow
and submissions copy it into their bundles. A candidate without an environment of its own
records request-dse's own (versions only: nothing was resolved). Creating the environment is a
metric of its own, ``env_time_s`` (0.0 when it existed), never part of the build's or the
measurement's figures.
"""

from __future__ import annotations

import dataclasses

from request_dse.backends import BuildResult, get_backend
from request_dse.envs import Lock, current_lock
from request_dse.evaluate._base import TrialJob
from request_dse.files import write_atomic
from request_dse.results import TrialResult

LOCK_FILE = "environment.lock"


def trial_lock(job: TrialJob) -> Lock | None:
    """The lock of the environment ``job`` runs in (None for a backend the registry lacks)."""
    if job.session.environment is not None:
        return job.session.environment
    try:
        backend = get_backend(job.session.backend)
    except KeyError:
        return None
    return current_lock(backend.distribution, backend.environment_requires, "request-dse's own environment")


def recorded(job: TrialJob, build: BuildResult, result: TrialResult) -> TrialResult:
    """``result`` with its environment: the lock's summary, the lock file, ``env_time_s``."""
    lock = trial_lock(job)
    if lock is None:
        return result
    path = job.trial_dir / LOCK_FILE
    try:
        if not path.is_file() or path.read_text() != lock.text:
            write_atomic(path, lambda tmp: tmp.write_text(lock.text))
    except OSError:
        pass  # the summary below still says which versions ran
    info = {**result.info, "environment": {**lock.summary(), "lock_file": str(path)}}
    metrics = dict(result.metrics)
    if job.session.environment is not None:
        metrics["env_time_s"] = build.env_time_s
    return dataclasses.replace(result, info=info, metrics=metrics)
