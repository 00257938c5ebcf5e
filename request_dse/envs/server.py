"""An environment's worker server: runs in the environment's interpreter, imports the heavy
libraries once, and forks one worker per request, so that a worker in another environment costs
what a worker of request-dse's own forkserver costs (a fork), not an interpreter's start-up.

Protocol (one Unix-socket connection per worker, messages pickled by :func:`.worker.dumps`):

    driver -> worker   (fn, arg, cores, env, log_path, driver_pid)
    worker -> driver   ("pid", pid)              first, before anything runs
    worker -> driver   (status, value)           the result, as child_main sends it
    server -> driver   ("exit", exit code)       once the worker is gone (negative: a signal)

The server exits when its standard input closes (the driver exited or was killed); its workers
die with it. It imports nothing but the standard library and what it is asked to preload.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import socket
import sys
from typing import Any

POLL_S = 0.5


def _preload(modules: list[str], calls: list[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - as multiprocessing's forkserver: a worker will say why
            pass
    for spec in calls:  # registries worth filling once ("module:function")
        module, _, attr = spec.partition(":")
        try:
            getattr(importlib.import_module(module), attr)()
        except Exception:  # noqa: BLE001
            pass


def _worker(sock: socket.socket) -> None:
    """In the forked child: say who it is, take the request, run it (never returns)."""
    from multiprocessing.connection import Connection

    from request_dse.envs.worker import Channel, child_main

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    conn = Channel(Connection(sock.detach()))
    try:
        conn.send(("pid", os.getpid()))
        request: Any = conn.recv()
    except (EOFError, OSError):
        os._exit(1)
    child_main(conn, *request)


def _reap(children: dict[int, socket.socket]) -> None:
    from multiprocessing.connection import Connection

    from request_dse.envs.worker import Channel

    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        sock = children.pop(pid, None)
        if sock is None:
            continue
        try:
            Channel(Connection(os.dup(sock.fileno()))).send(("exit", os.waitstatus_to_exitcode(status)))
        except OSError:
            pass  # the driver stopped listening
        sock.close()


def serve(listener: socket.socket) -> None:
    children: dict[int, socket.socket] = {}
    wake_r, wake_w = os.pipe()  # SIGCHLD wakes the loop: an exit is reported at once
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    while True:
        ready, _, _ = select.select([listener, sys.stdin, wake_r], [], [], POLL_S)
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 4096):
            break  # the driver is gone: so are the workers (they die with this process)
        if wake_r in ready:
            os.read(wake_r, 4096)
        if listener in ready:
            try:
                sock, _ = listener.accept()
            except OSError:
                continue
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                os.close(wake_r)
                os.close(wake_w)
                listener.close()
                for other in children.values():
                    other.close()
                _worker(sock)
            children[pid] = sock
        _reap(children)


def main(argv: list[str]) -> None:
    """``argv``: the listening socket's fd, then JSON lists of modules to preload and of
    ``module:function`` registries to fill."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the driver; it stops the workers
    listener = socket.socket(fileno=int(argv[0]))
    _preload(json.loads(argv[1]), json.loads(argv[2]))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    os.dup2(2, 1)  # nobody reads the pipe from now on: what workers print goes where the server's errors go
    serve(listener)
    os._exit(0)
