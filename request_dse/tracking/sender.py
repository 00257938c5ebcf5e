"""The process that sends a study's outbox to MLflow while the study runs.

The search's thread only appends payloads to the outbox (a local file) and sets an event; a
child process of its own reads the outbox and sends it with ``log_batch`` calls. MLflow's
client, its HTTP requests and their JSON never share the search's interpreter (its GIL), so a
slow or unreachable server costs the search nothing but the appends.

The child sends until told to stop, then until the outbox is empty, the server is unreachable
or ``flush_timeout_s`` has passed; what is left waits in the outbox for the next run of the
study or ``request-dse sync``. It also stops, after one last send, when the study's process is
gone (killed), and it ignores SIGINT: Ctrl-C stops the study, which then tells the child to
finish. It runs at a lower priority (``nice`` +10) and on the cores the study's process had when
it started (the build cores, under the local executor): sending never takes a core from a
measurement.

While the study runs, the child uses at most ``cpu_share`` of one core (``tracking.cpu_share``,
0.05 by default): after a send that took it ``t`` seconds of CPU it rests ``t (1 - share) / share``
seconds (half a second at least, so payloads go in batches), and one send stops after
``SEND_FOR_S``: a study of millisecond trials, which outruns any MLflow store, keeps the rest of
the machine. Connecting (importing MLflow's client, opening the experiment, repairing stale runs:
seconds of CPU, once) does not count when it succeeds, so the first runs go at once. Studies whose
trials take seconds never reach the share; what a fast study leaves behind is sent at its end, at
full speed (``benchmarks/tracking_scale.py``).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

from request_dse.results import TrialRecord
from request_dse.study import TrackingConfig
from request_dse.tracking._settings import TrackingTarget
from request_dse.tracking._sink import MlflowSink, is_connection_error
from request_dse.tracking.outbox import Outbox
from request_dse.tracking.sync import drain, repair

#: How often the child retries an unreachable server when nothing new arrives.
RETRY_EVERY_S = 30.0
#: The child's niceness, added to the study's.
NICENESS = 10
#: How often the child looks whether the study's process is still there.
CHECK_EVERY_S = 1.0
#: The most of one core the child uses while the study runs (``tracking.cpu_share``).
CPU_SHARE = TrackingConfig.cpu_share
#: The shortest rest between two sends, and the longest send, while the study runs.
REST_AT_LEAST_S, SEND_FOR_S = 0.5, 1.0


@dataclass(frozen=True)
class SenderConfig:
    """What the child needs: where to send, and the study's trials when it started (to repair)."""

    target: TrackingTarget
    outbox: Outbox
    study_id: str
    study: str
    owner: str
    names: tuple[str, ...]
    directions: tuple[str, ...]
    snapshot: tuple[TrialRecord, ...]
    flush_timeout_s: float
    cpu_share: float = CPU_SHARE


class Sender:
    """Sends one study's outbox: connects, repairs stale runs once, drains (in the child)."""

    def __init__(self, config: SenderConfig, report: Any = None) -> None:
        self.config = config
        self.outbox = config.outbox
        self.offline_reason = ""
        self._report = report  # a Connection the offline reason goes back on, or None
        self._sink: Any = None
        self._warned = False
        #: CPU seconds spent connecting (importing MLflow's client, opening the experiment, repairing
        #: stale runs) when it succeeded: a one-off cost that does not count against the share (a
        #: failed attempt does, so an unreachable server is not retried at every trial).
        self.connect_cpu = 0.0

    def _connect(self) -> bool:
        c = self.config
        started = time.process_time()
        try:
            if self._sink is None:
                self._sink = MlflowSink(c.target, c.study_id)
            if self._sink.experiment_id is None:
                self._sink.connect()
                repair(self._sink, self.outbox, c.snapshot, c.study_id, c.study, c.owner, c.names, c.directions)
                self.connect_cpu += time.process_time() - started
            return True
        except Exception as exc:  # noqa: BLE001 - the sender must not die
            if self._sink is not None:
                self._sink.experiment_id = None
            self._offline(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
                          expected=is_connection_error(exc))
            return False

    def _offline(self, reason: str, *, expected: bool = True) -> None:
        self.offline_reason = reason
        if self._report is not None:
            self._report.send(reason)
        if not self._warned:
            self._warned = True
            what = "cannot reach" if expected else "failed to write to"
            print(f"request-dse: tracking: {what} {self.config.target.uri} ({reason}); trials go on and their "
                  f"runs wait in {self.outbox.path}", file=sys.stderr, flush=True)

    def send(self, within_s: float | None = None) -> bool:
        """Send what is pending now, for at most ``within_s`` (nothing when another process holds the
        outbox); whether payloads are left that the next send should take without waiting to be woken."""
        try:
            with self.outbox.sending() as mine:
                if not mine or not self._connect():
                    return False
                result = drain(self._sink, self.outbox, within_s=within_s)
                if result.offline:
                    self._offline(result.error)
                    return False
                if self.offline_reason:
                    self.offline_reason = ""
                    if self._report is not None:
                        self._report.send("")
                return result.pending > 0
        except Exception as exc:  # noqa: BLE001 - never take the study down
            self._offline(f"{type(exc).__name__}: {exc}", expected=False)
            return False


def serve(config: SenderConfig, wake: Any, stop: Any, report: Any, parent: int) -> None:
    """The child's loop (see the module's docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.nice(NICENESS)  # background work: the search and its measurements come first
    except OSError:
        pass
    sender = Sender(config, report)
    deadline, last, rest_until = None, 0.0, 0.0
    while True:
        woken = wake.wait(CHECK_EVERY_S)
        ending = stop.is_set() or os.getppid() != parent
        if not (woken or ending or time.monotonic() - last >= RETRY_EVERY_S):
            continue
        if not ending and time.monotonic() < rest_until:  # within its share: the payloads wait
            stop.wait(min(rest_until - time.monotonic(), CHECK_EVERY_S))
            continue
        wake.clear()
        last, cpu, connecting = time.monotonic(), time.process_time(), sender.connect_cpu
        if sender.send(None if ending else SEND_FOR_S):
            wake.set()  # cut short by SEND_FOR_S: the rest goes after the rest
        used = time.process_time() - cpu - (sender.connect_cpu - connecting)
        rest_until = time.monotonic() + max(REST_AT_LEAST_S, used * (1 - config.cpu_share) / config.cpu_share)
        if ending:
            if not len(sender.outbox) or sender.offline_reason:
                return
            deadline = deadline or time.monotonic() + config.flush_timeout_s
            if time.monotonic() > deadline:
                return


class SenderProcess:
    """The study's handle on its sending child."""

    def __init__(self, config: SenderConfig) -> None:
        ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
        self._wake, self._stop = ctx.Event(), ctx.Event()
        self._reasons, report = ctx.Pipe(duplex=False)
        self.config = config
        self._process = ctx.Process(target=serve, name="request-dse-tracking", daemon=True,
                                    args=(config, self._wake, self._stop, report, os.getpid()))
        self._process.start()
        report.close()
        self._wake.set()  # open the parent run and repair stale runs now, not at the first trial
        self._reason = ""

    def wake(self) -> None:
        """New payloads are in the outbox (costs the caller a semaphore release)."""
        self._wake.set()

    def offline_reason(self) -> str:
        """Why the child's last send failed ('' when it did not)."""
        try:
            while not self._reasons.closed and self._reasons.poll():
                self._reason = self._reasons.recv()
        except (EOFError, OSError):
            pass
        return self._reason

    def finish(self, grace_s: float = 15.0) -> None:
        """Tell the child to send what is left and wait for it (at most its flush timeout and ``grace_s``)."""
        self._stop.set()
        self._wake.set()
        self._process.join(self.config.flush_timeout_s + grace_s)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
        self.offline_reason()  # its last word, before the pipe closes
        self._reasons.close()
