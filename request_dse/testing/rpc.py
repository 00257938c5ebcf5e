"""A real TVM RPC tracker and servers on 127.0.0.1, for integration tests (and trying an rpc target).

Started with ``request-dse rpc tracker|server`` (so the command's defaults are what is tested),
each in its own process group, and always stopped: ``with RpcCluster(servers=2) as cluster``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from request_dse.targets import Endpoint, probe, servers_for, tracker_summary


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class RpcCluster:
    """A tracker and ``servers`` servers registered under ``key``, on loopback; with
    ``direct=True`` also one server without a tracker, at :attr:`direct`."""

    def __init__(self, key: str = "loopback", servers: int = 1, log_dir: Path | None = None,
                 start_timeout_s: float = 120.0, direct: bool = False) -> None:
        self.key = key
        self.n_servers = servers
        self.direct = Endpoint("127.0.0.1", free_port()) if direct else None
        self.log_dir = log_dir
        self.start_timeout_s = start_timeout_s
        self.tracker = Endpoint("127.0.0.1", free_port())
        self.processes: list[subprocess.Popen[bytes]] = []
        self.servers: list[subprocess.Popen[bytes]] = []

    def _start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "wb") if self.log_dir else subprocess.DEVNULL  # noqa: SIM115
        env = {**os.environ, "TVM_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen([sys.executable, "-m", "request_dse", "rpc", *args], stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True, env=env)
        if log is not subprocess.DEVNULL:
            log.close()
        self.processes.append(process)
        return process

    def start(self) -> RpcCluster:
        self._start("tracker", "tracker", "--port", str(self.tracker.port))
        for i in range(self.n_servers):
            self.servers.append(self._start(f"server{i}", "server", "--tracker", str(self.tracker), "--key", self.key,
                                            "--port", str(free_port())))
        if self.direct is not None:
            self.servers.append(self._start("direct", "server", "--key", self.key, "--port", str(self.direct.port)))
        self.wait_for_servers(self.n_servers)
        return self

    def registered(self) -> tuple[int, int]:
        """(servers registered under the key, of which free); (0, 0) while the tracker is down."""
        try:
            return servers_for(tracker_summary(self.tracker, timeout_s=2), self.key)
        except (OSError, ValueError):
            return 0, 0

    def wait_for_servers(self, n: int) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while self.registered()[0] != n or (self.direct is not None and probe(self.direct, 1.0) is not None):
            dead = [p.args for p in self.processes if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the RPC cluster did not start ({n} servers expected): "
                                   + (f"exited: {dead}" if dead else f"timed out after {self.start_timeout_s:g} s"))
            time.sleep(0.2)

    def busy_server(self, timeout_s: float = 60.0) -> subprocess.Popen[bytes] | None:
        """The server now serving a session, waiting up to ``timeout_s``. A server process runs its
        listening loop in one child (TVM's popen worker), which forks one more per session."""
        import psutil

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for server in self.servers:
                try:
                    if server.poll() is None and len(psutil.Process(server.pid).children(recursive=True)) >= 2:
                        return server
                except psutil.Error:
                    continue
            time.sleep(0.05)
        return None

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        """Kill a process and everything it started (its own process group)."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait(timeout=30)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                self.kill(process)

    def __enter__(self) -> RpcCluster:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
