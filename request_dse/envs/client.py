"""Workers in an environment's interpreter, from the driver's side.

One worker server (:mod:`.server`) per environment and driver process, started on first use
with the environment's interpreter in isolated mode (``-I``: no user site, no ``PYTHONPATH``,
no current folder), so nothing of request-dse's own environment leaks in. The engine's code
reaches it by path: the bootstrap loads the ``request_dse`` package from this installation's
folder, whatever else the environment holds. ``PYTHONPATH`` entries of the driver come after the
environment's own packages (plug-in modules named in ``$REQUEST_DSE_PLUGINS`` live there).

A worker is a :class:`EnvProcess`: the same surface as a ``multiprocessing`` process and its
result pipe (``pid``, ``exitcode``, ``join``, ``close``; ``poll``/``recv`` on :attr:`EnvProcess.reader`),
so the runner that watches, pauses and kills workers treats both alike.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import request_dse
from request_dse.envs.records import EnvError, Environment
from request_dse.envs.worker import Channel

ENGINE = Path(request_dse.__file__).resolve().parent
START_TIMEOUT_S = 120.0
#: Loads the request_dse package from the folder in argv[1], adds the paths in argv[2], then
#: calls the ``module:function`` in argv[3] with the remaining arguments.
BOOT = ("import importlib, importlib.util, json, sys\n"
        "pkg = sys.argv[1]\n"
        "sys.path.extend(json.loads(sys.argv[2]))\n"
        "spec = importlib.util.spec_from_file_location('request_dse', pkg + '/__init__.py', "
        "submodule_search_locations=[pkg])\n"
        "mod = importlib.util.module_from_spec(spec)\n"
        "sys.modules['request_dse'] = mod\n"
        "spec.loader.exec_module(mod)\n"
        "module, _, function = sys.argv[3].partition(':')\n"
        "getattr(importlib.import_module(module), function)(sys.argv[4:])\n")
_HIDDEN = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")


def boot_command(env: Environment, entry: str, args: Sequence[str], path: Sequence[str] | None = None) -> list[str]:
    """The command line running ``entry`` (``module:function``, called with ``args``) in ``env``'s
    interpreter, isolated (``-I``), with this installation's request_dse package and, after the
    environment's own packages, ``path`` (default: the entries of this process's ``PYTHONPATH``)."""
    if path is None:
        path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return [str(env.python), "-I", "-c", BOOT, str(ENGINE), json.dumps(list(path)), entry, *args]


class _Reader:
    """The result side of a worker (closing it leaves the connection to :meth:`EnvProcess.close`)."""

    def __init__(self, process: EnvProcess) -> None:
        self.process = process

    def poll(self, timeout: float = 0.0) -> bool:
        return self.process.channel.poll(timeout)

    def recv(self) -> Any:
        message = self.process.channel.recv()
        if message[0] == "exit":  # gone without a result: a crash
            self.process.exitcode = message[1]
            raise EOFError
        return message

    def close(self) -> None:
        return None


class EnvProcess:
    def __init__(self, pid: int, channel: Channel) -> None:
        self.pid = pid
        self.channel = channel
        self.exitcode: int | None = None
        self.reader = _Reader(self)

    def join(self, timeout: float | None = None) -> None:
        while self.exitcode is None:
            if not self.channel.poll(timeout):
                return
            try:
                message = self.channel.recv()
            except (EOFError, OSError):  # the server is gone, and its workers with it
                self.exitcode = -signal.SIGKILL
                return
            if message[0] == "exit":
                self.exitcode = message[1]

    def close(self) -> None:
        self.channel.close()


class EnvServer:
    """The worker server of one environment, for this process."""

    def __init__(self, env: Environment, preload: Sequence[str], calls: Sequence[str]) -> None:
        from multiprocessing import util

        self.env = env
        # beside the forkserver's socket: removed at exit, and swept after a kill -9 like it
        self.folder = Path(tempfile.mkdtemp(prefix="env-", dir=util.get_temp_dir()))
        self.address = str(self.folder / "socket")
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(self.address)
        listener.listen(64)
        self.log = tempfile.TemporaryFile()
        environ = {k: v for k, v in os.environ.items() if k not in _HIDDEN}
        try:
            self.process = subprocess.Popen(
                boot_command(env, "request_dse.envs.server:main",
                             [str(listener.fileno()), json.dumps(list(preload)), json.dumps(list(calls))]),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, pass_fds=(listener.fileno(),),
                start_new_session=True, env=environ)
        except OSError as exc:
            self.close()
            raise EnvError(f"the interpreter of {env.lock.label or env.lock.id} cannot start: {exc}") from None
        finally:
            listener.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Until the server says ``ready`` (a preloaded library may print before it)."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        line = b""
        while line.strip() != b"ready":
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            line = self.process.stdout.readline() if ready else b""
            if not line:
                break
        if line.strip() != b"ready":
            self.close()
            raise EnvError(f"the worker server of {self.env.lock.label or self.env.lock.id} did not start: "
                           f"{self.log_tail() or 'no message'}")

    def log_tail(self, lines: int = 6) -> str:
        self.log.seek(0)
        text = self.log.read().decode("utf-8", "replace").strip().splitlines()
        return " | ".join(text[-lines:])

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def spawn(self, request: tuple[Any, ...]) -> EnvProcess:
        """A worker running ``child_main(*request)``."""
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.connect(self.address)
        except OSError as exc:
            sock.close()
            raise EnvError(f"the worker server of {self.env.lock.label or self.env.lock.id} is gone ({exc}): "
                           f"{self.log_tail() or 'no message'}") from None
        from multiprocessing.connection import Connection

        channel = Channel(Connection(sock.detach()))
        try:
            channel.send(request)
            if not channel.poll(START_TIMEOUT_S):
                raise EOFError
            kind, pid = channel.recv()
        except (EOFError, OSError):
            channel.close()
            raise EnvError(f"the worker server of {self.env.lock.label or self.env.lock.id} did not start a "
                           f"worker: {self.log_tail() or 'no message'}") from None
        return EnvProcess(pid, channel)

    def close(self) -> None:
        process = getattr(self, "process", None)
        if process is not None and process.poll() is None:
            try:
                process.stdin.close()  # type: ignore[union-attr]
                process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
                process.wait()
        for stream in (process.stdin, process.stdout) if process is not None else ():
            try:
                if stream is not None:
                    stream.close()
            except OSError:  # a pipe whose reader is gone
                pass
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_SERVERS: dict[tuple[str, tuple[str, ...]], EnvServer] = {}
_LOCK = threading.Lock()


def server_for(env: Environment, preload: Sequence[str], calls: Sequence[str] = ()) -> EnvServer:
    """This process's worker server of ``env`` (started, or restarted, when needed)."""
    key = (str(env.root), tuple(preload))
    with _LOCK:
        server = _SERVERS.get(key)
        if server is None or not server.alive:
            if server is not None:
                server.close()
            server = _SERVERS[key] = EnvServer(env, preload, calls)
        return server


def spawn(env: Environment, request: tuple[Any, ...], preload: Sequence[str] = (),
          calls: Sequence[str] = ()) -> EnvProcess:
    """A worker in ``env`` running ``child_main(*request)``; EnvError when none can start."""
    return server_for(env, preload, calls).spawn(request)


@atexit.register
def close_all() -> None:
    """Stop every worker server of this process."""
    with _LOCK:
        for server in _SERVERS.values():
            server.close()
        _SERVERS.clear()
