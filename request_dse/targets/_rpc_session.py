"""One measurement session on a TVM RPC device (runs in a worker process on this host).

A numbered pipeline, each step named in the error it raises:

1. connect -- ask the tracker for a server under the key (or connect to the server);
2. upload -- send the built library; load it and create a Relax VM on the remote device;
3. score -- run the check inputs and the held-out split, reading outputs back;
4. time -- the study's protocol through ``time_evaluator`` on the device: ``warmup_runs``
   untimed calls, then repeats of one call each (so each sample is one batch, as on a local
   target) until both ``min_runs`` and ``min_time_s`` are met, capped by ``max_runs`` and
   ``max_time_s``;
5. close: the session ends with the worker process, whichever way it ends.

A server that dies or drops the connection ends the session with an error that names the
step and the device; the target turns it into ``run_error`` for this trial only.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from request_dse.backends import Session, read_meta
from request_dse.targets._base import SessionRequest, SessionResult
from request_dse.targets.session import infer
from request_dse.targets.tracker import Endpoint, tracker_problem

#: Upper bound of repeats asked of one time_evaluator call (each call returns all its samples).
CHUNK = 2000


@dataclass(frozen=True)
class Connection:
    """How a measurement worker reaches the device (plain values: crosses process boundaries)."""

    tracker: Endpoint | None
    server: Endpoint | None
    key: str
    device: str
    session_timeout_s: float

    def describe(self) -> str:
        if self.tracker is not None:
            return f"key {self.key!r} at the RPC tracker {self.tracker}"
        return f"the RPC server {self.server}"


@dataclass(frozen=True)
class RemoteSessionRequest:
    session: SessionRequest
    connection: Connection
    session_index: int


class RemoteStepError(RuntimeError):
    """A step of the remote session failed."""


class RemoteVmSession(Session):
    """The Relax VM of an uploaded library, on the remote device."""

    def __init__(self, vm: Any, device: Any) -> None:
        self.vm, self.device = vm, device
        self._main = vm["main"]

    def place(self, batch: np.ndarray) -> Any:
        import tvm

        return tvm.runtime.tensor(np.ascontiguousarray(batch), self.device)

    def run(self, placed: Any) -> Any:
        return self._main(placed)

    def fetch(self, output: Any) -> np.ndarray:
        return output.numpy() if hasattr(output, "numpy") else output[0].numpy()


def connect(conn: Connection, timeout_s: float) -> Any:
    from tvm import rpc

    if conn.tracker is not None:
        problem = tracker_problem(conn.tracker, conn.key)
        if problem:
            raise RemoteStepError(problem)
        tracker = rpc.connect_tracker(conn.tracker.host, conn.tracker.port)
        return tracker.request(conn.key, priority=1, session_timeout=max(timeout_s, conn.session_timeout_s))
    assert conn.server is not None  # RpcTarget.unavailable rejects a target with neither
    return rpc.connect(conn.server.host, conn.server.port, key=conn.key,
                       session_timeout=max(timeout_s, conn.session_timeout_s))


def load(remote: Any, request: RemoteSessionRequest) -> RemoteVmSession:
    from tvm import relax

    artifact = request.session.artifact_dir
    library = read_meta(artifact)["files"][0]
    remote.upload(str(artifact / library))
    module = remote.load_module(library)
    device = remote.device(request.connection.device, 0)
    try:  # the remote runtime's thread pool: as many threads as the candidate asks for
        remote.get_function("runtime.config_threadpool")(1, request.session.threads)
    except Exception:  # noqa: BLE001 - an older runtime without it keeps its own setting
        pass
    return RemoteVmSession(relax.VirtualMachine(module, device), device)


def _evaluate(session: RemoteVmSession, placed: Any, number: int, repeat: int) -> list[float]:
    session.vm.set_input("main", placed)
    timer = session.vm.time_evaluator("invoke_stateful", session.device, number=number, repeat=repeat,
                                      min_repeat_ms=0)
    return list(timer("main").results)


def time_protocol(session: RemoteVmSession, placed: Any, request: RemoteSessionRequest) -> np.ndarray:
    """The protocol's samples (ns), each one call timed on the device."""
    protocol = request.session.protocol
    if protocol.warmup_runs:
        _evaluate(session, placed, protocol.warmup_runs, 1)
    samples: list[float] = []
    started = time.perf_counter()
    while True:
        total = sum(samples)
        n = len(samples)
        if (n >= protocol.min_runs and total >= protocol.min_time_s) or n >= protocol.max_runs \
                or total >= protocol.max_time_s or time.perf_counter() - started >= protocol.max_time_s:
            break
        mean = total / n if n else 0.0
        wanted = max(protocol.min_runs - n, math.ceil((protocol.min_time_s - total) / mean) if mean > 0 else 1, 1)
        if mean > 0:
            wanted = min(wanted, max(1, math.ceil((protocol.max_time_s - total) / mean)))
        samples += _evaluate(session, placed, 1, min(wanted, protocol.max_runs - n, CHUNK))
    return np.asarray(np.round(np.asarray(samples) * 1e9), dtype=np.int64)


def _step(name: str, conn: Connection, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except RemoteStepError:
        raise
    except Exception as exc:  # noqa: BLE001 - named, then re-raised as one kind
        text = str(exc).strip().splitlines()
        detail = next((line for line in reversed(text) if line.strip()), exc.__class__.__name__)
        raise RemoteStepError(f"remote {name} failed on {conn.describe()}: {detail.strip()} "
                              f"(the server may have stopped or dropped the connection)") from exc


def remote_session(request: RemoteSessionRequest) -> SessionResult:
    """Steps 1-5 for one session; returns its samples (and outputs when scoring)."""
    conn, session_request = request.connection, request.session
    started = time.perf_counter()
    remote = _step("connect", conn, connect, conn, session_request.protocol.timeout_s)
    t0 = time.perf_counter()
    session = _step("upload", conn, load, remote, request)
    load_time = time.perf_counter() - t0
    with np.load(session_request.prepared.data_path) as data:
        x_eval, x_check = data["x_eval"], data["x_check"]
    check_outputs = top5 = None
    if session_request.score:
        check_outputs = _step("score", conn, infer, session, x_check, session_request.batch_size)
        logits = _step("score", conn, infer, session, x_eval, session_request.batch_size)
        k = min(5, logits.shape[1]) if logits.ndim == 2 else 1
        top5 = np.argsort(-logits.reshape(len(logits), -1), axis=1, kind="stable")[:, :k]
    batch = np.resize(x_eval[:session_request.batch_size], (session_request.batch_size, *x_eval.shape[1:]))
    placed = _step("upload", conn, session.place, batch)
    samples = _step("time", conn, time_protocol, session, placed, request)
    return SessionResult(samples, load_time, 0.0, time.perf_counter() - started, check_outputs, top5, None)
