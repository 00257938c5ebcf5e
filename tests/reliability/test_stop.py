"""Stopping ``request-dse tune`` from outside: SIGTERM and Ctrl-C end it within 2 s, trials in
flight are marked ``interrupted`` (and measured by the next run), nothing is left running; after
``kill -9`` of the driver alone, its worker server and resource tracker die with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FAST_MEASURE
from tests.reliability._procs import MARK, Tree, marked, wait_gone

#: How long a stopped study may take to end (the goal), and the grace the test gives a loaded machine.
STOP_WITHIN_S = 2.0


def _study(write_study, name: str, **fields):  # type: ignore[no-untyped-def]
    """Builds that hang until stopped (a generous timeout), two at a time."""
    return write_study(name, frameworks={"faults": {"fault": ["hang"], "stage": ["build"]}}, sampler={"name": "grid"},
                       space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25, 0.5],
                                             "model.resolution": [4, 8], "model.precision": ["fp32"]}},
                       budget={"trials": 4}, measure=FAST_MEASURE, build={"timeout_s": 600, "workers": 1}, **fields)


def _in_a_terminal() -> None:
    """SIGINT deliverable and at its default, as for a command typed in a terminal."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(path: Path, tmp: Path) -> tuple[subprocess.Popen[str], str]:
    import uuid

    mark = uuid.uuid4().hex
    env = {**os.environ, MARK: mark, "TMPDIR": str(tmp)}
    tmp.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "request_dse", "tune", str(path), "--no-export"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=_in_a_terminal)
    return proc, mark


def _wait_for(predicate, proc: subprocess.Popen[str], what: str, timeout: float = 300) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.05)


def _statuses(path: Path, tmp: Path) -> list[str]:
    code, out, err = Tree(["report", str(path), "--json", "--all"], tmp).wait(120)
    assert code in (0, 3), err
    return [t["status"] for t in json.loads(out)["trials"] if "skip" not in t]


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_study_within_two_seconds(write_study, tmp_path: Path, sig: int, code: int) -> None:  # type: ignore[no-untyped-def]
    path = _study(write_study, f"stop-{sig}")
    tmp = tmp_path / "tmpdir"
    proc, mark = _start(path, tmp)
    trials = tmp_path / ".request-dse" / f"stop-{sig}" / "trials"
    _wait_for(lambda: trials.exists() and any(trials.glob("*/build.log")), proc, "a build")
    time.sleep(0.5)  # the build is under way in its worker
    sent = time.monotonic()
    os.killpg(proc.pid, sig)  # SIGTERM as `kill` sends it; SIGINT to the whole group, as Ctrl-C does
    output = proc.communicate(timeout=60)[0]
    took = time.monotonic() - sent
    assert proc.returncode == code, output
    assert took < STOP_WITHIN_S, f"{signal.Signals(sig).name}: ended {took:.1f} s after the signal"
    assert "interrupted" in output
    assert not wait_gone(mark, timeout=STOP_WITHIN_S), "processes of the stopped run are still alive"
    statuses = _statuses(path, tmp)
    assert "running" not in statuses and "interrupted" in statuses, statuses


@pytest.mark.slow
def test_ctrl_c_while_the_worker_is_still_starting(write_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The first trial waits for the worker server to import its libraries: Ctrl-C does not wait for it."""
    path = _study(write_study, "early")
    tmp = tmp_path / "tmpdir"
    proc, mark = _start(path, tmp)
    trials = tmp_path / ".request-dse" / "early" / "trials"
    _wait_for(lambda: trials.exists() and any(trials.iterdir()), proc, "a trial")
    sent = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    output = proc.communicate(timeout=60)[0]
    took = time.monotonic() - sent
    assert proc.returncode == 130, output
    assert took < STOP_WITHIN_S, f"ended {took:.1f} s after Ctrl-C"
    assert not wait_gone(mark, timeout=STOP_WITHIN_S)
    assert "running" not in _statuses(path, tmp)


@pytest.mark.slow
@pytest.mark.parametrize("when", ["while the worker server starts", "while a build runs"])
def test_kill_9_of_the_driver_takes_its_server_and_tracker_along(write_study, tmp_path: Path, when: str) -> None:  # type: ignore[no-untyped-def]
    path = _study(write_study, "k9")
    tmp = tmp_path / "tmpdir"
    tree = Tree(["tune", str(path), "-q", "--no-export"], tmp)
    trials = tmp_path / ".request-dse" / "k9" / "trials"
    deadline = time.monotonic() + 300
    while not (trials.exists() and any(trials.glob("*/build.log" if "build" in when else "*"))):
        assert tree.proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    if "build" in when:
        time.sleep(0.5)
    helpers = [p for p in marked(tree.mark) if p.pid != tree.proc.pid]
    assert helpers, "no worker server was started"
    tree.kill()
    left = wait_gone(tree.mark, timeout=1.0)
    assert not left, [" ".join(p.cmdline())[:200] for p in left]
