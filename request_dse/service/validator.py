"""The validation workers: threads of the server that take jobs from the queue and run them.

``executor: local`` -- each job runs in a sandboxed child of this machine (:mod:`.runner`), one
job per target at a time. ``executor: ray`` -- each job is a Ray task that asks for one unit of
the target's resource (``target:<name>``), which only the node owning the device advertises: so
it runs there, alone. One thread per target keeps its job's lease alive; a node lost under a
job (the task fails with a Ray system error) puts the job back in the queue, and a job that
outlives its server is queued again by whichever server starts or sweeps next.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from request_dse.execute.ray import disconnect
from request_dse.service import queue
from request_dse.service.database import sqlite_path
from request_dse.service.runner import JobRequest, request_json, run_job, run_job_remote
from request_dse.service.tournament import Tournament

log = logging.getLogger("request_dse.service")


class Validator:
    def __init__(self, engine: Engine, tournament: Tournament, *, poll_s: float = 1.0, heartbeat_s: float = 5.0,
                 lease_s: float = queue.LEASE_S) -> None:
        self.engine, self.tournament = engine, tournament
        self.poll_s, self.heartbeat_s, self.lease_s = poll_s, heartbeat_s, lease_s
        self.owner = queue.owner_id()
        self._stop, self._wake = threading.Event(), threading.Event()
        self._lock = threading.Lock()
        self._busy: set[str] = set()
        self._cancels: dict[int, threading.Event] = {}
        self._threads: list[threading.Thread] = []
        self._ray: Any = None
        self._targets = {t.target: t.target_file for t in tournament.tracks}

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        settings = self.tournament.validation
        again = queue.recover(self.engine, self.lease_s)
        if again:
            log.warning("validation jobs %s queued again: their server is gone", ", ".join(map(str, again)))
        if settings.workers == 0:
            return
        if settings.executor == "ray":
            self._ray = self._connect_ray()
            groups: list[Sequence[str]] = [[t] for t in self._targets]
        else:
            groups = [list(self._targets)] * settings.workers
        for i, targets in enumerate(groups):
            self._spawn(f"validator-{i}", self._loop, targets)
        self._spawn("validator-sweep", self._sweep)

    def _spawn(self, name: str, fn: Any, *args: Any) -> None:
        thread = threading.Thread(target=fn, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def wake(self) -> None:
        """A job was queued: look now instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Stop taking jobs; the ones running are stopped and queued again (not counted as attempts)."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            for cancel in self._cancels.values():
                cancel.set()
        for thread in self._threads:
            thread.join(timeout=60)
        if self._ray is not None:
            disconnect()

    # -- the loop --------------------------------------------------------------------------------
    def _claim(self, targets: Sequence[str]) -> queue.Job | None:
        with self._lock:
            free = [t for t in targets if t not in self._busy]
            job = queue.claim(self.engine, self.owner, free, self.tournament.validation.attempts)
            if job is not None:
                self._busy.add(job.target)
                self._cancels[job.id] = threading.Event()
            return job

    def _loop(self, targets: Sequence[str]) -> None:
        while not self._stop.is_set():
            try:
                job = self._claim(targets)
            except Exception:  # noqa: BLE001 - a database hiccup must not end the worker
                log.exception("could not take a validation job")
                job = None
            if job is None:
                self._wake.wait(self.poll_s)
                self._wake.clear()
                continue
            try:
                self._run(job)
            except Exception:  # noqa: BLE001
                log.exception("validation job %s", job.id)
                queue.requeue(self.engine, job, self.owner, "re-queued: the server's worker failed (see its log)")
            finally:
                with self._lock:
                    self._busy.discard(job.target)
                    self._cancels.pop(job.id, None)

    def _sweep(self) -> None:
        while not self._stop.wait(max(1.0, self.lease_s / 4)):
            try:
                queue.recover(self.engine, self.lease_s)
            except Exception:  # noqa: BLE001
                log.exception("sweeping the validation queue")

    def request(self, job: queue.Job) -> JobRequest:
        settings = self.tournament.validation
        db = sqlite_path(self.tournament.database)
        hide = tuple(str(p) for p in (self.tournament.store, db.parent if db else None) if p is not None)
        return JobRequest(job.id, job.entry_id, job.target, Path(self._targets[job.target]).read_text(),
                          settings.tolerance, settings.span_s, settings.timeout_s, settings.memory_mb, settings.sandbox, hide)

    def _run(self, job: queue.Job) -> None:
        cancel = self._cancels[job.id]
        archive = self.tournament.store / job.archive
        request = self.request(job)
        log.info("validating entry %s (job %s, attempt %s) on %s", job.entry_id, job.id, job.attempts, job.target)
        if self._ray is None:
            result = self._watch_local(job, request, archive, cancel)
        else:
            result = self._watch_ray(job, request, archive, cancel)
        if result is None:
            return
        if result.get("status") == "interrupted":
            queue.requeue(self.engine, job, self.owner, "re-queued: the server stopped while it ran", count=False)
            return
        if result.get("status") == "lost":
            queue.requeue(self.engine, job, self.owner, str(result["reason"]))
            return
        reason = str(result.pop("reason", "") or "")
        outcome = queue.Outcome(str(result.pop("status")), reason, result, str(result.pop("isolation", "")),
                                str(result.pop("node", "")))
        if not queue.finish(self.engine, job, self.owner, outcome):
            log.warning("job %s was taken over before it finished here; its result is dropped", job.id)

    def _keep_lease(self, job: queue.Job, cancel: threading.Event) -> None:
        if not queue.heartbeat(self.engine, job, self.owner):
            log.warning("job %s is no longer this server's: stopping it", job.id)
            cancel.set()

    def _watch_local(self, job: queue.Job, request: JobRequest, archive: Path,
                     cancel: threading.Event) -> dict[str, Any] | None:
        box: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: box.update(run_job(request, archive, cancel)), daemon=True,
                                  name=f"job-{job.id}")
        worker.start()
        while worker.is_alive():
            worker.join(self.heartbeat_s)
            if worker.is_alive():
                self._keep_lease(job, cancel)
        if cancel.is_set() and not self._stop.is_set():
            return None  # taken over: nothing to record
        return box or {"status": "failed", "reason": "the runner returned nothing"}

    # -- ray ---------------------------------------------------------------------------------------
    def _connect_ray(self) -> Any:
        import os

        import ray

        from request_dse.targets import load_target, make_target, option_specs

        self._resources = {name: make_target(load_target(path, option_specs(), expected_name=path.stem)).resource
                           for name, path in self._targets.items()}
        address = self.tournament.validation.ray_address or os.environ.get("RAY_ADDRESS")
        quiet = {"logging_level": logging.WARNING, "log_to_driver": False, "include_dashboard": False}
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(resources={r: 1 for r in self._resources.values()}, _node_ip_address="127.0.0.1", **quiet)
        return ray

    def _watch_ray(self, job: queue.Job, request: JobRequest, archive: Path,
                   cancel: threading.Event) -> dict[str, Any] | None:
        ray = self._ray
        task = ray.remote(run_job_remote).options(resources={self._resources[job.target]: 1}, num_cpus=1,
                                                  max_retries=0, name=f"validate-{job.entry_id}")
        ref = task.remote(request_json(request), archive.read_bytes(), archive.name)
        while True:
            try:
                return dict(ray.get(ref, timeout=self.heartbeat_s))
            except ray.exceptions.GetTimeoutError:
                self._keep_lease(job, cancel)
                if cancel.is_set():
                    ray.cancel(ref, force=True)
                    return {"status": "interrupted"} if self._stop.is_set() else None
            except ray.exceptions.RayTaskError as exc:
                return {"status": "failed", "reason": f"the validation task failed: {str(exc).splitlines()[0]}"}
            except ray.exceptions.RayError as exc:
                return {"status": "lost", "reason": f"re-queued: the node running it was lost ({type(exc).__name__})"}
