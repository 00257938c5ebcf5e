"""The local runtime: one measurement per target at a time, a candidate's sessions back to back."""

from __future__ import annotations

import threading
import time
from typing import Any

from request_dse.execute import ProcessRunner
from request_dse.execute.local import LocalRuntime
from request_dse.study import load_plan
from request_dse.targets import make_target


def test_a_candidate_holds_its_target_between_its_sessions(write_study: Any) -> None:
    """While a trial's thread holds the target (its measurement sessions back to back), another
    thread's turn on it waits; the holder takes it again at once (each of its sessions does), and
    once it lets go the other goes on."""
    target = make_target(load_plan(write_study("hold")).target_spec)
    runtime = LocalRuntime(ProcessRunner(), 1, ())
    order: list[str] = []

    def other() -> None:
        with runtime.holding(target):
            order.append("other")

    waiting = threading.Thread(target=other)
    with runtime.holding(target):
        waiting.start()
        time.sleep(0.2)  # time for the other thread to ask for its turn
        with runtime.holding(target):  # a session of the holder's own
            order.append("first session")
        order.append("second session")
    waiting.join(timeout=10)
    assert order == ["first session", "second session", "other"]
