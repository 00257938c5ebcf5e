"""A real multi-node Ray cluster on 127.0.0.1 for integration tests: ``ray start`` processes.

Each node is a ``ray start --block`` process in its own process group (so one node can be
killed without touching the others, or any other Ray cluster of the machine) and advertises
the target resources it owns. Token authentication is on, with a token of the cluster's own.
Failure detection is tightened so a killed node is declared dead within seconds.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from request_dse.testing.postgres import free_port

#: Environment of every node (and of the drivers: RAY_AUTH_* must match).
FAST_FAILURE_DETECTION = {"RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "4",
                          "RAY_health_check_timeout_ms": "1000", "RAY_health_check_initial_delay_ms": "0"}


def _ray() -> str:
    return str(Path(sys.executable).with_name("ray"))


@dataclass
class RayNode:
    name: str
    process: subprocess.Popen[bytes]
    resources: dict[str, float]
    log: Any = None

    def processes(self) -> list[int]:
        """The node's processes: its session (Ray workers lead process groups of their own)."""
        import psutil

        out = []
        for proc in psutil.process_iter():
            try:
                if os.getsid(proc.pid) == self.process.pid:
                    out.append(proc.pid)
            except (ProcessLookupError, PermissionError):
                continue
        return out

    def kill(self) -> None:
        """SIGKILL every process of the node at once: a lost machine."""
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=30)
        self.close()

    def close(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None


@dataclass
class RayCluster:
    root: Path
    port: int = 0
    nodes: list[RayNode] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What a driver of this cluster needs in its environment."""
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(self.root / "auth_token"),
                "RAY_num_workers_soft_limit": "4", **FAST_FAILURE_DETECTION}

    def _start(self, name: str, args: list[str], cpus: int, resources: dict[str, float]) -> RayNode:
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 - the node keeps it
        cmd = [_ray(), "start", "--block", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus}",
               f"--resources={json.dumps(resources)}", "--disable-usage-stats", *args]
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                   env={**os.environ, **self.env})
        node = RayNode(name, process, resources, log)
        self.nodes.append(node)
        return node

    def start_head(self, cpus: int, resources: dict[str, float]) -> RayNode:
        self.port = _free_port_outside_workers()
        (self.root / "auth_token").write_text(secrets.token_hex(32))
        return self._start("head", ["--head", f"--port={self.port}", "--include-dashboard=false",
                                    f"--temp-dir={self.root / 'ray'}"], cpus, resources)

    def add_node(self, name: str, cpus: int, resources: dict[str, float]) -> RayNode:
        return self._start(name, [f"--address={self.address}"], cpus, resources)

    def nodes_info(self) -> list[dict[str, Any]]:
        """``ray.nodes()`` as a driver sees it (asked in a subprocess: this process stays out of Ray)."""
        code = ("import json, ray; ray.init(address=%r, logging_level='ERROR', log_to_driver=False); "
                "print('NODES=' + json.dumps(ray.nodes()))" % self.address)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                             env={**os.environ, **self.env})
        for line in out.stdout.splitlines():
            if line.startswith("NODES="):
                return json.loads(line[len("NODES="):])
        raise RuntimeError(f"could not list the nodes of {self.address}: {out.stderr[-2000:]}")

    def wait_for_nodes(self, alive: int, timeout_s: float = 180) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                nodes = [n for n in self.nodes_info() if n["Alive"]]
            except (RuntimeError, subprocess.TimeoutExpired):
                nodes = []
            if len(nodes) >= alive:
                return nodes
            if time.monotonic() > deadline or any(n.process.poll() is not None for n in self.nodes):
                logs = {p.name: p.read_text()[-1500:] for p in self.root.glob("*.log")}
                raise RuntimeError(f"the Ray cluster did not come up with {alive} nodes: {logs}")
            time.sleep(1.0)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            if node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
        for node in reversed(self.nodes):
            try:
                node.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            for pid in node.processes():  # whatever of the node is left
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:  # reaped, so that no Popen of a running process is left to the garbage collector
                node.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            node.close()
        shutil.rmtree(self.root, ignore_errors=True)


def _free_port_outside_workers() -> int:
    """A free port outside Ray's default worker port range (10002-19999)."""
    while True:
        port = free_port()
        if not 10000 <= port <= 20000:
            return port


def new_cluster() -> RayCluster:
    return RayCluster(Path(tempfile.mkdtemp(prefix="rdr-")))
