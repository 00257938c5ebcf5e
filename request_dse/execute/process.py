"""Run one function in a fresh, isolated worker process, and turn how it ends into a value.

Workers are forked from a forkserver that has already imported the heavy libraries (TVM, ONNX
Runtime, ...), so a fresh process costs tens of milliseconds instead of seconds, and no state
survives from one build or measurement session to the next; a measurement worker is forked
ahead of its job and waits for it (:mod:`.ahead`), so a session's wall time holds no fork. Each
worker:

* leads its own process group (a terminal's Ctrl-C reaches the driver only; a timeout kills
  the worker and anything it started);
* is pinned to the cores it is given and gets the environment variables it is given;
* writes its stdout/stderr (native libraries' too) to a log file whose tail explains a crash.

The parent watches it: a timeout, a resident-memory limit, a crash (a signal), a Python
exception and a clean result each become a :class:`ChildOutcome`; nothing is raised. A runner
can pause its workers (SIGSTOP) while a measurement needs their cores; paused time does not
count against their timeout.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from request_dse.envs import EnvError, Environment, spawn
from request_dse.execute._base import ChildOutcome, Runner
from request_dse.execute._worker import (
    HINTS,
    MEMORY_POLL_S,
    NUMPY,
    POLL_S,
    PROPAGATED_ENV,
    child_main,
    rss_bytes,
    signal_name,
    summarize_exception,
    tail,
    worker_context,
)
from request_dse.execute.ahead import AHEAD, Spares

#: What a worker server of another environment imports once (the engine's worker side), and the
#: registries it fills, as this interpreter's forkserver does with :mod:`._preload`.
ENV_PRELOAD = (*NUMPY, "request_dse.envs.worker", "request_dse.backends", "request_dse.targets")
ENV_REGISTRIES = ("request_dse.backends:names", "request_dse.targets:kinds")


@dataclass
class RunningWorker:
    process: Any
    label: str
    cores: tuple[int, ...]
    paused_since: float | None = None
    paused_total: float = 0.0


@dataclass
class ProcessRunner(Runner):
    """Starts workers, watches them, pauses and kills them; safe to use from several threads."""

    preload: tuple[str, ...] = ()
    log_dir: Path | None = None
    #: Labels whose next worker is forked ahead of its job (:mod:`.ahead`).
    ahead: tuple[str, ...] = AHEAD
    _spares: Spares = field(init=False)
    _running: dict[int, RunningWorker] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closed: bool = False

    def __post_init__(self) -> None:
        self._spares = Spares(self.ahead)

    @property
    def closed(self) -> bool:
        return self._closed

    def ready(self, label: str) -> int | None:
        """The pid of the worker forked ahead for the next job of ``label``, if one waits."""
        return self._spares.ready(label)

    def start(self) -> None:
        """Start the worker server now; from the main thread, it then dies with this process."""
        worker_context(self.preload)

    def run(self, fn: Callable[[Any], Any], arg: Any, *, timeout_s: float, memory_limit_mb: int | None = None,
            cores: tuple[int, ...] = (), env: Mapping[str, str] | None = None, label: str = "worker",
            log_path: Path | None = None, environment: Environment | None = None) -> ChildOutcome:
        if self._closed:
            return ChildOutcome("interrupted", error="the study is stopping")
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
        inherited = {k: os.environ[k] for k in PROPAGATED_ENV if k in os.environ}
        args = (fn, arg, tuple(cores), {**inherited, **(env or {})}, str(log_path) if log_path else None, os.getpid())
        started = time.monotonic()
        if environment is not None:  # a worker of that environment's server (same surface as below)
            try:
                process: Any = spawn(environment, args, ENV_PRELOAD + self.preload, ENV_REGISTRIES)
            except EnvError as exc:
                return ChildOutcome("error", error=str(exc), wall_s=time.monotonic() - started)
            reader = process.reader
        else:
            ctx = worker_context(self.preload)
            taken = self._spares.take(label, args)
            if taken is not None:
                process, reader = taken
            else:
                reader, writer = ctx.Pipe(duplex=False)
                process = ctx.Process(target=child_main, daemon=True, name=f"request-dse-{label}",
                                      args=(writer, *args))
                process.start()
                writer.close()
            self._spares.fork(label, ctx)  # the next job of this label finds its worker waiting
        entry = RunningWorker(process, label, tuple(cores))
        with self._lock:
            self._running[process.pid] = entry
        try:
            self._started(process.pid, entry)
            return self._watch(entry, reader, started, timeout_s, memory_limit_mb, log_path)
        finally:
            with self._lock:
                self._running.pop(process.pid, None)
            self._ended(process.pid, entry)
            reader.close()
            process.join(timeout=5)
            if process.exitcode is None:
                self._kill(process)
                process.join()
            process.close()

    def _watch(self, entry: RunningWorker, reader: Any, started: float, timeout_s: float,
               memory_limit_mb: int | None, log_path: Path | None) -> ChildOutcome:
        process = entry.process
        limit = memory_limit_mb * 2**20 if memory_limit_mb else None
        next_memory_check = 0.0
        while True:
            now = time.monotonic()
            if reader.poll(POLL_S):
                try:
                    status, payload = reader.recv()
                except (EOFError, OSError):
                    process.join(timeout=5)
                    if self._closed:
                        return ChildOutcome("interrupted", error="the study was stopped", wall_s=now - started)
                    code = process.exitcode
                    name = signal_name(code)
                    hint = HINTS.get(name, "")
                    return ChildOutcome("crashed", error=f"{entry.label} worker died: {name}"
                                        + (f" ({hint})" if hint else ""),
                                        log_tail=tail(log_path), wall_s=now - started, exitcode=code)
                wall = time.monotonic() - started
                if status == "ok":
                    return ChildOutcome("ok", value=payload, wall_s=wall)
                return ChildOutcome(status, error=payload, log_tail=tail(log_path), wall_s=wall)
            if self._closed:
                self._kill(process)
                return ChildOutcome("interrupted", error="the study was stopped", wall_s=now - started)
            paused = entry.paused_total + (now - entry.paused_since if entry.paused_since else 0.0)
            if now - started - paused > timeout_s and now - started - paused - self._paused_elsewhere(process.pid) > timeout_s:
                self._kill(process)
                return ChildOutcome("timeout", error=f"{entry.label} timed out: killed after {timeout_s:g} s",
                                    log_tail=tail(log_path), wall_s=now - started)
            if limit and now >= next_memory_check:
                next_memory_check = now + MEMORY_POLL_S
                rss = rss_bytes(process.pid)
                if rss > limit:
                    self._kill(process)
                    return ChildOutcome("out_of_memory",
                                        error=f"{entry.label} exceeded its memory limit of {memory_limit_mb} MB "
                                              f"(resident {rss / 2**20:.0f} MB): killed",
                                        log_tail=tail(log_path), wall_s=now - started)

    # Hooks for runners that share a machine with other runners (see execute/_host.py).
    def _started(self, pid: int, entry: RunningWorker) -> None:
        """Called once a worker runs (its pid registered), before it is watched."""

    def _ended(self, pid: int, entry: RunningWorker) -> None:
        """Called once a worker is gone."""

    def _paused_elsewhere(self, pid: int) -> float:
        """Seconds another process kept this worker paused (not counted against its timeout)."""
        return 0.0

    @staticmethod
    def _kill(process: Any) -> None:
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
            except (ProcessLookupError, PermissionError):
                try:
                    os.kill(process.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass

    def pause(self, cores: Iterable[int], labels: tuple[str, ...] = ("build",)) -> list[int]:
        """SIGSTOP the workers (of these labels) pinned to any of ``cores``; returns their pids."""
        wanted = set(cores)
        stopped = []
        with self._lock:
            for pid, entry in self._running.items():
                if entry.label in labels and entry.paused_since is None and (not entry.cores or wanted & set(entry.cores)):
                    try:
                        os.killpg(pid, signal.SIGSTOP)
                    except (ProcessLookupError, PermissionError):
                        continue
                    entry.paused_since = time.monotonic()
                    stopped.append(pid)
        return stopped

    def resume(self, pids: Iterable[int]) -> None:
        with self._lock:
            for pid in pids:
                entry = self._running.get(pid)
                try:
                    os.killpg(pid, signal.SIGCONT)
                except (ProcessLookupError, PermissionError):
                    pass
                if entry is not None and entry.paused_since is not None:
                    entry.paused_total += time.monotonic() - entry.paused_since
                    entry.paused_since = None

    def running(self) -> dict[str, int]:
        with self._lock:
            counts: dict[str, int] = {}
            for entry in self._running.values():
                counts[entry.label] = counts.get(entry.label, 0) + 1
            return counts

    def close(self) -> None:
        """Kill every worker; later ``run`` calls return ``interrupted`` at once."""
        self._closed = True
        with self._lock:
            for entry in self._running.values():
                self._kill(entry.process)
        self._spares.close()


class InlineRunner(ProcessRunner):
    """Runs the function in this process: no isolation, no timeout. For debugging."""

    def start(self) -> None:
        """Nothing to start: functions run in this process."""

    def run(self, fn: Callable[[Any], Any], arg: Any, *, timeout_s: float, memory_limit_mb: int | None = None,
            cores: tuple[int, ...] = (), env: Mapping[str, str] | None = None, label: str = "worker",
            log_path: Path | None = None, environment: Environment | None = None) -> ChildOutcome:
        if environment is not None:
            return ChildOutcome("error", error=f"the inline executor runs every step in this process, so it cannot use "
                                               f"the environment of {environment.lock.label or environment.lock.id}: "
                                               "use the local or ray executor")
        saved = {k: os.environ.get(k) for k in (env or {})}
        os.environ.update(env or {})
        started = time.monotonic()
        try:
            return ChildOutcome("ok", value=fn(arg), wall_s=time.monotonic() - started)
        except MemoryError as exc:
            return ChildOutcome("out_of_memory", error=summarize_exception(exc), wall_s=time.monotonic() - started)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a value
            if log_path is not None:
                log_path.parent.mkdir(parents=True, exist_ok=True)
                log_path.write_text(traceback.format_exc())
            return ChildOutcome("error", error=summarize_exception(exc), wall_s=time.monotonic() - started)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
