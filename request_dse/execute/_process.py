"""Run one function in a fresh, isolated worker process, and turn how it ends into a value.

Workers are forked from a forkserver that has already imported the heavy libraries (TVM, ONNX
Runtime, ...), so a fresh process costs tens of milliseconds instead of seconds, and no state
survives from one build or measurement session to the next. Each worker:

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

import multiprocessing as mp
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_CONTEXT: Any = None
_CONTEXT_LOCK = threading.Lock()
POLL_S = 0.05
MEMORY_POLL_S = 0.1


def worker_context(preload: Iterable[str] = ()) -> Any:
    """The forkserver context; ``preload`` modules are imported once in the server."""
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload(sorted({"numpy", "request_dse.measure", "request_dse.execute.steps",
                                               *preload}))
            _claim_temp_dir()
            _CONTEXT = ctx
        return _CONTEXT


_OWNER_FILE = "request-dse.pid"


def _claim_temp_dir() -> None:
    """Mark this process's multiprocessing temp dir (the forkserver's socket lives there) as
    ours, and remove the ones that runs killed with ``kill -9`` left behind."""
    from multiprocessing import util

    mine = Path(util.get_temp_dir())
    (mine / _OWNER_FILE).write_text(str(os.getpid()))
    sweep_dead_temp_dirs(mine.parent)


def sweep_dead_temp_dirs(parent: Path | None = None) -> None:
    """Remove the multiprocessing temp dirs of request-dse runs that were killed (their owner
    process is gone). Runs call it when they start, whether or not they start workers."""
    import shutil
    import tempfile

    from multiprocessing import process

    mine = process.current_process()._config.get("tempdir")  # type: ignore[attr-defined]  # this run's own
    for other in Path(parent or tempfile.gettempdir()).glob("pymp-*"):
        try:
            pid = int((other / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if str(other) != mine and pid != os.getpid() and not _alive(pid):
            shutil.rmtree(other, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class ChildOutcome:
    """How a worker ended: ``ok``, ``error``, ``timeout``, ``crashed``, ``out_of_memory``, ``interrupted``."""

    status: str
    value: Any = None
    error: str = ""
    log_tail: str = ""
    wall_s: float = 0.0
    exitcode: int | None = None

    def describe(self) -> str:
        text = self.error
        if self.log_tail and self.status != "ok":
            text += "\n--- log tail ---\n" + self.log_tail
        return text.strip()


def _signal_name(code: int | None) -> str:
    if code is None or code >= 0:
        return f"exit code {code}"
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


_HINTS = {"SIGILL": "illegal instruction: the code uses an instruction this CPU does not have",
          "SIGSEGV": "segmentation fault", "SIGBUS": "bus error", "SIGABRT": "aborted",
          "SIGFPE": "arithmetic exception", "SIGKILL": "killed"}


def summarize_exception(exc: BaseException) -> str:
    """The exception's type and message, plus the innermost frames (full text goes to the log)."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = "; ".join(f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames)
    message = str(exc).strip()
    if len(message) > 2000:
        message = message[:1000] + " ... " + message[-900:]
    return f"{type(exc).__name__}: {message}" + (f" (at {where})" if where else "")


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when its parent (the forkserver) goes away.

    The forkserver exits as soon as the driver does (even after ``kill -9``), so a worker of
    a killed study, a hung build included, never outlives it as an orphan.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


def _child_main(conn: Any, fn: Callable[[Any], Any], arg: Any, cores: tuple[int, ...],
                env: Mapping[str, str], log_path: str | None, driver: int) -> None:
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    _die_with_parent()
    try:
        os.kill(driver, 0)  # the driver died before the request took effect: so will the forkserver
    except ProcessLookupError:
        os._exit(1)
    except PermissionError:
        pass
    if log_path:
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    os.environ.update(env)
    if cores:
        try:
            os.sched_setaffinity(0, cores)
        except OSError:
            pass
    try:
        result: tuple[str, Any] = ("ok", fn(arg))
    except MemoryError as exc:
        traceback.print_exc()
        result = ("out_of_memory", summarize_exception(exc))
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a value
        traceback.print_exc()
        result = ("error", summarize_exception(exc))
    try:
        conn.send(result)
    except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable result
        conn.send(("error", f"result could not be sent back: {summarize_exception(exc)}"))
    finally:
        for stream in ("stdout", "stderr"):
            try:
                getattr(__import__("sys"), stream).flush()
            except Exception:  # noqa: BLE001
                pass
        conn.close()
        os._exit(0)  # skip library teardown: the result is already sent


def _tail(path: Path | None, lines: int = 15) -> str:
    if path is None:
        return ""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _rss_bytes(pid: int) -> int:
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
    except psutil.Error:
        return 0


@dataclass
class _Running:
    process: Any
    label: str
    cores: tuple[int, ...]
    paused_since: float | None = None
    paused_total: float = 0.0


@dataclass
class ProcessRunner:
    """Starts workers, watches them, pauses and kills them; safe to use from several threads."""

    preload: tuple[str, ...] = ()
    log_dir: Path | None = None
    _running: dict[int, _Running] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closed: bool = False

    def run(self, fn: Callable[[Any], Any], arg: Any, *, timeout_s: float, memory_limit_mb: int | None = None,
            cores: tuple[int, ...] = (), env: Mapping[str, str] | None = None, label: str = "worker",
            log_path: Path | None = None) -> ChildOutcome:
        if self._closed:
            return ChildOutcome("interrupted", error="the study is stopping")
        ctx = worker_context(self.preload)
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
        reader, writer = ctx.Pipe(duplex=False)
        process = ctx.Process(target=_child_main, daemon=True, name=f"request-dse-{label}",
                              args=(writer, fn, arg, tuple(cores), dict(env or {}),
                                    str(log_path) if log_path else None, os.getpid()))
        started = time.monotonic()
        process.start()
        writer.close()
        entry = _Running(process, label, tuple(cores))
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

    def _watch(self, entry: _Running, reader: Any, started: float, timeout_s: float,
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
                    name = _signal_name(code)
                    hint = _HINTS.get(name, "")
                    return ChildOutcome("crashed", error=f"{entry.label} worker died: {name}"
                                        + (f" ({hint})" if hint else ""),
                                        log_tail=_tail(log_path), wall_s=now - started, exitcode=code)
                wall = time.monotonic() - started
                if status == "ok":
                    return ChildOutcome("ok", value=payload, wall_s=wall)
                return ChildOutcome(status, error=payload, log_tail=_tail(log_path), wall_s=wall)
            if self._closed:
                self._kill(process)
                return ChildOutcome("interrupted", error="the study was stopped", wall_s=now - started)
            paused = entry.paused_total + (now - entry.paused_since if entry.paused_since else 0.0)
            if now - started - paused > timeout_s and now - started - paused - self._paused_elsewhere(process.pid) > timeout_s:
                self._kill(process)
                return ChildOutcome("timeout", error=f"{entry.label} timed out: killed after {timeout_s:g} s",
                                    log_tail=_tail(log_path), wall_s=now - started)
            if limit and now >= next_memory_check:
                next_memory_check = now + MEMORY_POLL_S
                rss = _rss_bytes(process.pid)
                if rss > limit:
                    self._kill(process)
                    return ChildOutcome("out_of_memory",
                                        error=f"{entry.label} exceeded its memory limit of {memory_limit_mb} MB "
                                              f"(resident {rss / 2**20:.0f} MB): killed",
                                        log_tail=_tail(log_path), wall_s=now - started)

    # Hooks for runners that share a machine with other runners (see execute/_host.py).
    def _started(self, pid: int, entry: _Running) -> None:
        """Called once a worker runs (its pid registered), before it is watched."""

    def _ended(self, pid: int, entry: _Running) -> None:
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


class InlineRunner(ProcessRunner):
    """Runs the function in this process: no isolation, no timeout. For debugging."""

    def run(self, fn: Callable[[Any], Any], arg: Any, *, timeout_s: float, memory_limit_mb: int | None = None,
            cores: tuple[int, ...] = (), env: Mapping[str, str] | None = None, label: str = "worker",
            log_path: Path | None = None) -> ChildOutcome:
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
