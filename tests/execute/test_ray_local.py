"""`request-dse tune --executor ray` on a Ray instance it starts itself, stopped with Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from request_dse.search import load_existing, records
from tests.conftest import study_doc

pytestmark = pytest.mark.slow


def _ray_processes_of(pid: int) -> list[int]:
    """Processes of the Ray instance a driver with this pid started (its session dir ends in the pid)."""
    pattern = re.compile(rf"session_[\d_-]+_{pid}\b")
    out = []
    for proc in psutil.process_iter(["cmdline"]):
        if pattern.search(" ".join(proc.info["cmdline"] or [])):
            out.append(proc.pid)
    return out


def _as_in_a_terminal() -> None:
    """SIGINT deliverable and at its default, as for a command typed in a terminal.

    Ignored or blocked signals are inherited by a child; a Ray driver earlier in this test
    session (tests/execute/test_ray.py) may leave SIGINT blocked in this process.
    """
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    doc = study_doc("ctrl-c", executor="ray", sampler={"name": "grid", "seed": 0}, budget={"trials": 4},
                    frameworks={"faults": {"fault": ["slow"], "stage": ["build"]}},
                    space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25, 0.5],
                                          "model.resolution": [4, 8], "model.precision": ["fp32"]}})
    path = tmp_path / "ctrl-c.yaml"
    path.write_text(yaml.safe_dump(doc))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    driver = subprocess.Popen([sys.executable, "-m", "request_dse", "tune", str(path)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                              preexec_fn=_as_in_a_terminal)
    trials = tmp_path / ".request-dse" / "ctrl-c" / "trials"
    deadline = time.monotonic() + 300
    while not (trials.exists() and list(trials.glob("*/build.log"))):  # a build is running
        assert driver.poll() is None, driver.communicate()[0]
        assert time.monotonic() < deadline, "no build started"
        time.sleep(0.2)
    ray_pids = _ray_processes_of(driver.pid)
    os.killpg(driver.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    output = driver.communicate(timeout=180)[0]
    assert driver.returncode == 130, output
    assert "interrupted" in output
    recs = records(load_existing(f"journal:{tmp_path / '.request-dse' / 'ctrl-c' / 'study.journal'}", "ctrl-c"))
    assert recs and not [r for r in recs if r.state == "RUNNING"], recs
    assert [r for r in recs if r.status == "interrupted"]
    deadline = time.monotonic() + 60
    while [p for p in ray_pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]:
        assert time.monotonic() < deadline, "the Ray instance outlived its driver"
        time.sleep(0.5)
