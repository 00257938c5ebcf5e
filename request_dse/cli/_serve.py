"""A server a command starts and serves in the foreground: its port checked first, its readiness
awaited, and its whole process tree stopped with the command -- on Ctrl-C, on ``kill``, and on
``kill -9`` too (a guard process notices the command is gone and stops the tree).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

from request_dse.errors import UserError

#: The guard: waits for end of file on stdin (the command holds the other end, whatever way it
#: ends), then stops the server's process group: SIGTERM, and SIGKILL after a grace period.
_GUARD = """
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
pgid = int(sys.argv[1])
sys.stdin.buffer.read()
try:
    os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < deadline:
        os.killpg(pgid, 0)
        time.sleep(0.1)
    os.killpg(pgid, signal.SIGKILL)
except ProcessLookupError:
    pass
"""

GRACE_S = 5.0


def check_port(host: str, port: int, hint: str) -> None:
    """A UserError when ``host:port`` cannot be bound (in use, or not an address of this machine)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UserError(f"--host {host}: not an address of this machine ({exc.strerror})") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: TIME_WAIT is no conflict
        try:
            probe.bind(address)
        except OSError as exc:
            reason = "is in use" if exc.errno == 98 else f"cannot be bound ({exc.strerror})"
            raise UserError(f"port {port} on {host} {reason}; {hint}") from None


def _reachable(host: str, port: int) -> bool:
    target = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    try:
        with socket.create_connection((target, port), timeout=0.5):
            return True
    except OSError:
        return False


class Served:
    """``cmd`` running in a process group of its own, stopped with this process."""

    def __init__(self, cmd: Sequence[str], env: Mapping[str, str]) -> None:
        try:
            self.process = subprocess.Popen(list(cmd), env=dict(env), start_new_session=True)
        except OSError as exc:
            raise UserError(f"cannot start {cmd[0]}: {exc.strerror or exc}; is it installed in this "
                            "environment?") from None
        self.guard = subprocess.Popen([sys.executable, "-c", _GUARD, str(self.process.pid), str(GRACE_S)],
                                      stdin=subprocess.PIPE, start_new_session=True)

    def wait_ready(self, host: str, port: int, timeout_s: float) -> None:
        """Return once the server accepts connections; a UserError if it exits or times out first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise UserError(f"the server stopped before it served on {host}:{port} (exit code {code}); "
                                "its own output is above")
            if _reachable(host, port):
                return
            time.sleep(0.2)
        raise UserError(f"the server did not answer on {host}:{port} within {timeout_s:g} s")

    def wait(self) -> int:
        return self.process.wait()

    def stop(self) -> None:
        """Stop the server's process group (SIGTERM, then SIGKILL) and release the guard."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=GRACE_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        except ProcessLookupError:
            pass
        if self.guard.stdin is not None:
            self.guard.stdin.close()
        self.guard.wait()


def stop_on_termination() -> None:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt, so ``kill`` runs the same cleanup as Ctrl-C."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)
