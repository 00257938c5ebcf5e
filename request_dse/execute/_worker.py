"""The worker side of process isolation: a forkserver with the heavy imports, and what a worker
does from its first instruction to its last (process group, death with its parent, pinned
cores, its log file, its result sent back as a value).

Workers are forked from a forkserver that has already imported the heavy libraries (TVM, ONNX
Runtime, ...), so a fresh process costs tens of milliseconds instead of seconds, and no state
survives from one build or measurement session to the next.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from request_dse.plugins import ENV as PLUGINS_ENV

#: Variables a worker takes from its parent at the time it starts (the forkserver has the
#: environment of when it started): plug-ins and data folders a study may have set since.
PROPAGATED_ENV = (PLUGINS_ENV, "REQUEST_DSE_PATH", "REQUEST_DSE_CACHE")

_CONTEXT: Any = None
_CONTEXT_LOCK = threading.Lock()
POLL_S = 0.05
MEMORY_POLL_S = 0.1
#: Set (only) while the main thread starts the forkserver: the pid it must die with.
DRIVER_ENV = "REQUEST_DSE_FORKSERVER_DRIVER"
_PRELOAD = "request_dse.execute._preload"


def worker_context(preload: Iterable[str] = ()) -> Any:
    """The forkserver context; ``preload`` modules are imported once in the server.

    Called from the main thread, it starts the server at once, bound to this process: when
    this process dies, even by ``kill -9``, the server and its workers die with it (see
    :func:`bind_to_driver`)."""
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload([_PRELOAD, *sorted({"numpy", *preload} - {_PRELOAD})])
            _claim_temp_dir()
            _CONTEXT = ctx
            if threading.current_thread() is threading.main_thread():
                _start_server()
        return _CONTEXT


def _start_server() -> None:
    from multiprocessing import forkserver

    os.environ[DRIVER_ENV] = str(os.getpid())
    try:
        forkserver.ensure_running()
    finally:
        os.environ.pop(DRIVER_ENV, None)


def bind_to_driver() -> None:
    """In the forkserver (its first preloaded module): die with the driver that started it.

    Linux sends the signal when the *thread* that started a process ends, so only a server the
    main thread started (:data:`DRIVER_ENV` set) is bound; a server some trial thread restarts
    ends the usual way, when every process holding its socket is gone."""
    driver = os.environ.pop(DRIVER_ENV, None)
    if not driver:
        return
    _die_with_parent()
    if os.getppid() != int(driver):  # the driver died before the request took effect
        os._exit(1)


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


def signal_name(code: int | None) -> str:
    if code is None or code >= 0:
        return f"exit code {code}"
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


HINTS = {"SIGILL": "illegal instruction: the code uses an instruction this CPU does not have",
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


def child_main(conn: Any, fn: Callable[[Any], Any], arg: Any, cores: tuple[int, ...],
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


def tail(path: Path | None, lines: int = 15) -> str:
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


def rss_bytes(pid: int) -> int:
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
    except psutil.Error:
        return 0
