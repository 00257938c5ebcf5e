"""One machine's cores, shared by worker processes that do not know each other.

Under Ray, the build and measurement tasks of a machine run in separate Ray worker processes
(and a machine may run several Ray nodes). They agree through a small folder per machine
(``$REQUEST_DSE_HOST_DIR``, default ``<tmp>/request-dse-<uid>/host``), under a file lock:

* ``builds/<pid>`` -- a running build worker and its cores;
* ``measuring/<id>`` -- a running measurement, its cores and the builds it paused.

A measurement waits until no other measurement holds any of its cores, then pauses
(``SIGSTOP``) every build pinned to one of them; a build waits until no measurement holds its
cores. The paused time of a build is written next to it and does not count against its
timeout. Entries of dead processes are ignored (a paused build is resumed) and removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from request_dse.execute.process import ProcessRunner, RunningWorker
from request_dse.files import lock

WAIT_S = 0.02


def default_dir() -> Path:
    env = os.environ.get("REQUEST_DSE_HOST_DIR")
    return Path(env) if env else Path(tempfile.gettempdir()) / f"request-dse-{os.getuid()}" / "host"


def _created(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _same_process(pid: int, created: float) -> bool:
    now = _created(pid)
    return now is not None and abs(now - created) < 0.5


def _signal_group(pid: int, created: float, sig: int) -> bool:
    """Signal a worker's process group, unless the pid now belongs to another process."""
    if not _same_process(pid, created):
        return False
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
    return True


def _wait_stopped(pids: Iterable[int], timeout_s: float = 2.0) -> None:
    """Return once every process has actually stopped (a signal takes effect asynchronously)."""
    import psutil

    deadline = time.monotonic() + timeout_s
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                if psutil.Process(pid).status() in (psutil.STATUS_STOPPED, psutil.STATUS_ZOMBIE):
                    break
            except psutil.Error:
                break
            time.sleep(0.002)


class HostCores:
    """The machine-wide registry of builds and measurements (see the module docstring)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_dir()
        for sub in ("builds", "measuring"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._thread_lock = threading.Lock()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with self._thread_lock, lock(self.root / "registry"):
            yield

    # -- entries (call with the lock held) -------------------------------------------------------
    def _read(self, kind: str) -> list[tuple[Path, dict[str, Any]]]:
        out = []
        for path in (self.root / kind).iterdir():
            if path.suffix:
                continue
            try:
                entry = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if _same_process(entry["pid"], entry["created"]):
                out.append((path, entry))
                continue
            if kind == "measuring":  # its measurement died: resume what it paused
                for pid, created in entry.get("paused", []):
                    _signal_group(pid, created, signal.SIGCONT)
            for stale in (path, path.with_suffix(".paused"), path.with_suffix(".stopped")):
                stale.unlink(missing_ok=True)
        return out

    def _busy(self, cores: Iterable[int], kind: str) -> bool:
        """Whether a ``kind`` entry holds one of ``cores`` (no cores: unpinned, so all of them)."""
        wanted = set(cores)
        return any(not wanted or not entry["cores"] or wanted & set(entry["cores"]) for _, entry in self._read(kind))

    def wait_until_free(self, cores: Iterable[int], kind: str, stop: threading.Event | None = None) -> Any:
        """Take the lock once no ``kind`` entry holds any of ``cores``; returns a release function."""
        cores = tuple(cores)
        while True:
            stack = contextlib.ExitStack()
            stack.enter_context(self.locked())
            if not self._busy(cores, kind) or (stop is not None and stop.is_set()):
                return stack.close
            stack.close()
            time.sleep(WAIT_S)

    def add_build(self, pid: int, cores: tuple[int, ...]) -> None:
        created = _created(pid) or 0.0
        (self.root / "builds" / str(pid)).write_text(json.dumps({"pid": pid, "created": created, "cores": cores}))

    def remove_build(self, pid: int) -> None:
        for suffix in ("", ".paused", ".stopped"):
            (self.root / "builds" / f"{pid}{suffix}").unlink(missing_ok=True)

    def paused_s(self, pid: int) -> float:
        """Seconds measurements kept this build paused, the pause going on included."""
        total = 0.0
        folder = self.root / "builds"
        try:
            total += sum(float(x) for x in (folder / f"{pid}.paused").read_text().split())
        except (OSError, ValueError):
            pass
        try:
            total += max(0.0, time.time() - float((folder / f"{pid}.stopped").read_text()))
        except (OSError, ValueError):
            pass
        return total

    # -- a measurement ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def measuring(self, cores: tuple[int, ...], stop: threading.Event | None = None) -> Iterator[list[int]]:
        """Hold ``cores`` for a measurement: wait for other measurements, pause overlapping builds.
        No cores (a device measured elsewhere, such as an RPC board) holds nothing."""
        if not cores:
            yield []
            return
        me = os.getpid()
        key = self.root / "measuring" / f"{me}-{threading.get_ident()}"
        release = self.wait_until_free(cores, "measuring", stop)
        try:
            paused = [(e["pid"], e["created"]) for _, e in self._read("builds")
                      if not cores or not e["cores"] or set(cores) & set(e["cores"])]
            paused = [(pid, created) for pid, created in paused if _signal_group(pid, created, signal.SIGSTOP)]
            _wait_stopped(pid for pid, _ in paused)
            for pid, _ in paused:
                (self.root / "builds" / f"{pid}.stopped").write_text(repr(time.time()))
            key.write_text(json.dumps({"pid": me, "created": _created(me) or 0.0, "cores": cores, "paused": paused}))
        finally:
            release()
        since = time.monotonic()
        try:
            yield [pid for pid, _ in paused]
        finally:
            with self.locked():
                held = time.monotonic() - since
                for pid, created in paused:
                    if _signal_group(pid, created, signal.SIGCONT):
                        with open(self.root / "builds" / f"{pid}.paused", "a") as f:
                            f.write(f"{held:.3f}\n")
                    (self.root / "builds" / f"{pid}.stopped").unlink(missing_ok=True)
                key.unlink(missing_ok=True)


@dataclass
class HostRunner(ProcessRunner):
    """A process runner whose build workers take part in the machine-wide registry."""

    host: HostCores = field(default_factory=HostCores)
    _release: dict[int, Any] = field(default_factory=dict)

    def run(self, fn: Any, arg: Any, *, timeout_s: float, memory_limit_mb: int | None = None,
            cores: tuple[int, ...] = (), env: Any = None, label: str = "worker",
            log_path: Path | None = None, environment: Any = None) -> Any:
        if label != "build":
            return super().run(fn, arg, timeout_s=timeout_s, memory_limit_mb=memory_limit_mb, cores=cores,
                               env=env, label=label, log_path=log_path, environment=environment)
        release = self.host.wait_until_free(cores, "measuring")
        self._release[threading.get_ident()] = release
        try:
            return super().run(fn, arg, timeout_s=timeout_s, memory_limit_mb=memory_limit_mb, cores=cores,
                               env=env, label=label, log_path=log_path, environment=environment)
        finally:
            pending = self._release.pop(threading.get_ident(), None)
            if pending is not None:
                pending()

    def _started(self, pid: int, entry: RunningWorker) -> None:
        release = self._release.pop(threading.get_ident(), None)
        if release is None:
            return
        try:
            self.host.add_build(pid, entry.cores)
        finally:
            release()

    def _ended(self, pid: int, entry: RunningWorker) -> None:
        if entry.label == "build":
            self.host.remove_build(pid)

    def _paused_elsewhere(self, pid: int) -> float:
        return self.host.paused_s(pid)
