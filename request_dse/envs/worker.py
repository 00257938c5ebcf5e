"""What a worker process does from its first instruction to its last, whichever interpreter runs
it (request-dse's own, forked from its forkserver, or an environment's, forked from that
environment's server): its own process group, death with its parent, pinned cores, its log
file, and its result sent back as a value.

Values crossing between interpreters with different NumPy releases are pickled with
:func:`dumps`, which writes arrays as bytes, dtype and shape (a NumPy 2 pickle names modules a
NumPy 1 cannot import, and the other way round).

This module imports nothing beyond the standard library: it runs in environments that hold
only a backend's library and the engine's few worker-side dependencies.
"""

from __future__ import annotations

import io
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


def summarize_exception(exc: BaseException) -> str:
    """The cause first, then where: ``Class: first line of the message (at the innermost
    frames)``, then the rest of a multi-line message (the full text goes to the log).

    The first line is what the progress line and the report show, so it is the message's first
    line that is not part of a traceback (native libraries put their own traceback first).
    """
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = "; ".join(f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames)
    message = str(exc).strip()
    if len(message) > 2000:
        message = message[:1000] + " ... " + message[-900:]
    lines = message.splitlines()
    first = next((i for i, line in enumerate(lines) if not _is_traceback_line(line)), 0)
    head = lines[first].strip() if lines else ""
    rest = "\n".join(lines[:first] + lines[first + 1:]).strip()
    cause = f"{type(exc).__name__}: {head}" if head else type(exc).__name__
    return cause + (f" (at {where})" if where else "") + (f"\n{rest}" if rest else "")


def _is_traceback_line(line: str) -> bool:
    text = line.strip()
    return (not text or line[:1].isspace() or text.startswith(("Traceback (most recent call last)", "File \""))
            or text.split(":", 1)[0].isdigit())


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when its parent (a forkserver) goes away.

    A forkserver exits as soon as the driver does (even after ``kill -9``), so a worker of
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
    die_with_parent()
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
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        conn.close()
        os._exit(0)  # skip library teardown: the result is already sent


# -- pickles that any NumPy release reads ---------------------------------------------------------
def _array(data: bytes, dtype: str, shape: tuple[int, ...]) -> Any:
    import numpy as np

    return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape).copy()


def _scalar(data: bytes, dtype: str) -> Any:
    import numpy as np

    return np.frombuffer(data, dtype=np.dtype(dtype))[0]


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        np = sys.modules.get("numpy")
        if np is None or not isinstance(obj, (np.ndarray, np.generic)) or obj.dtype.hasobject \
                or obj.dtype.fields is not None:
            return NotImplemented
        if isinstance(obj, np.ndarray):
            return _array, (np.ascontiguousarray(obj).tobytes(), obj.dtype.str, obj.shape)
        return _scalar, (obj.tobytes(), obj.dtype.str)


def dumps(obj: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()


def loads(data: bytes) -> Any:
    return pickle.loads(data)  # noqa: S301 - from a worker this process started


class Channel:
    """A connection whose messages are :func:`dumps` pickles (``send``/``recv``/``poll``/``close``)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def send(self, obj: Any) -> None:
        self.conn.send_bytes(dumps(obj))

    def recv(self) -> Any:
        return loads(self.conn.recv_bytes())

    def poll(self, timeout: float = 0.0) -> bool:
        return bool(self.conn.poll(timeout))

    def close(self) -> None:
        self.conn.close()
