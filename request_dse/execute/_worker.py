"""The worker side of process isolation: a forkserver with the heavy imports; what a worker does
from its first instruction to its last (process group, death with its parent, pinned cores, its
log file, its result sent back as a value) is :func:`request_dse.envs.child_main`, shared with
the workers that run in another environment's interpreter.

Workers are forked from a forkserver that has already imported the heavy libraries (TVM, ONNX
Runtime, ...) and run the driver's main script once (:func:`import_main`), so a fresh process
costs about 20 ms instead of seconds, and no state survives from one build or measurement
session to the next.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from request_dse.envs import child_main, die_with_parent, summarize_exception
from request_dse.files import pid_alive
from request_dse.plugins import ENV as PLUGINS_ENV

__all__ = ["HINTS", "MEMORY_POLL_S", "NUMPY", "POLL_S", "PROPAGATED_ENV", "child_main", "rss_bytes", "signal_name",
           "spare_main", "summarize_exception", "tail", "worker_context"]

#: Variables a worker takes from its parent at the time it starts (the forkserver has the
#: environment of when it started): plug-ins and data folders a study may have set since.
PROPAGATED_ENV = (PLUGINS_ENV, "REQUEST_DSE_PATH", "REQUEST_DSE_CACHE")

_CONTEXT: Any = None
_CONTEXT_LOCK = threading.Lock()
POLL_S = 0.05
MEMORY_POLL_S = 0.1
#: Set (only) while the main thread starts the forkserver: the pid it must die with.
DRIVER_ENV = "REQUEST_DSE_FORKSERVER_DRIVER"
#: Set (only) while the main thread starts the forkserver: the driver's main script, run once there.
MAIN_ENV = "REQUEST_DSE_FORKSERVER_MAIN"
_PRELOAD = "request_dse.execute._preload"
#: What every worker server imports first: NumPy, and ``numpy.ma``, which NumPy's median and
#: quantile functions import at their first call (12-37 ms on the reference host, which every
#: judging session's first look paid: a third of what a stopped candidate cost).
NUMPY = ("numpy", "numpy.ma")


def worker_context(preload: Iterable[str] = ()) -> Any:
    """The forkserver context; ``preload`` modules are imported once in the server.

    Called from the main thread, it starts the server at once, bound to this process: when
    this process dies, even by ``kill -9``, the server and its workers die with it (see
    :func:`bind_to_driver`)."""
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload([_PRELOAD, *sorted({*NUMPY, *preload} - {_PRELOAD})])
            _claim_temp_dir()
            _CONTEXT = ctx
            if threading.current_thread() is threading.main_thread():
                _start_server()
        return _CONTEXT


def _start_server() -> None:
    from multiprocessing import forkserver, spawn

    os.environ[DRIVER_ENV] = str(os.getpid())
    main = spawn.get_preparation_data("request-dse").get("init_main_from_path")
    if main:
        os.environ[MAIN_ENV] = main
    try:
        forkserver.ensure_running()
    finally:
        os.environ.pop(DRIVER_ENV, None)
        os.environ.pop(MAIN_ENV, None)


def spare_main(jobs: Any, results: Any) -> None:
    """A worker forked ahead (:mod:`.ahead`): wait for its one job, then run it as every worker
    does (:func:`child_main`, its result sent on ``results``); end if none comes."""
    try:
        args = jobs.recv()
    except (EOFError, OSError):
        os._exit(0)
    jobs.close()
    child_main(results, *args)


def bind_to_driver() -> None:
    """In the forkserver (its first preloaded module): die with the driver that started it.

    Linux sends the signal when the *thread* that started a process ends, so only a server the
    main thread started (:data:`DRIVER_ENV` set) is bound; a server some trial thread restarts
    ends the usual way, when every process holding its socket is gone."""
    driver = os.environ.pop(DRIVER_ENV, None)
    if not driver:
        return
    die_with_parent()
    if os.getppid() != int(driver):  # the driver died before the request took effect
        os._exit(1)


def import_main() -> None:
    """In the forkserver: run the driver's main script once, as ``__mp_main__``.

    A worker started from a script (the ``request-dse`` console script, pytest, a user's own
    program) runs that script again before its work starts, so that functions defined there
    can be unpickled. CPython means ``set_forkserver_preload(["__main__"])`` to do it once in
    the server, but (CPython 3.11) never passes the server the script's path, so every worker
    paid for importing what the script imports: 60-70 ms for the CLI, the largest part of a
    short measurement session. Run here, the workers find ``__main__`` already in place."""
    path = os.environ.pop(MAIN_ENV, None)
    if not path:
        return
    from multiprocessing import process, spawn

    process.current_process()._inheriting = True  # type: ignore[attr-defined]  # as CPython's own preload does
    try:
        spawn.import_main_path(path)
    except BaseException:  # noqa: BLE001 - each worker then runs the script itself, and reports what fails
        pass
    finally:
        del process.current_process()._inheriting  # type: ignore[attr-defined]


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
        if str(other) != mine and pid != os.getpid() and not pid_alive(pid):
            shutil.rmtree(other, ignore_errors=True)


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
