"""Workers in an environment's interpreter: forked from that environment's worker server, watched,
limited and killed like request-dse's own, their results read whatever NumPy either side has."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from request_dse.backends import package_version
from request_dse.envs import Environment, ensure, resolve, spec_for
from request_dse.envs.client import server_for
from request_dse.execute import ProcessRunner
from request_dse.testing.index import LocalIndex


@pytest.fixture
def env(probe: LocalIndex) -> Environment:
    """An environment with NumPy 1 (request-dse's own has NumPy 2) and request-dse-probe 1.0."""
    lock = resolve(spec_for("probe 1.0 with numpy 1", "request-dse-probe", "1.0", extra={"numpy": "1.26.4"}))
    return ensure(lock)[0]


@pytest.fixture
def runner() -> ProcessRunner:
    return ProcessRunner()


def test_a_worker_runs_the_environments_interpreter_and_libraries(env: Environment, runner: ProcessRunner) -> None:
    outcome = runner.run(package_version, "request-dse-probe", timeout_s=60, environment=env)
    assert (outcome.status, outcome.value) == ("ok", "1.0")
    assert runner.run(package_version, "numpy", timeout_s=60, environment=env).value == "1.26.4"
    assert runner.run(package_version, "request-dse-probe", timeout_s=60).value is None  # not in request-dse's own


def test_arrays_cross_between_numpy_releases_both_ways(env: Environment, runner: ProcessRunner) -> None:
    made = runner.run(np.ones, (2, 3), timeout_s=60, environment=env)  # made by NumPy 1, read by NumPy 2
    assert made.status == "ok" and isinstance(made.value, np.ndarray) and made.value.shape == (2, 3)
    assert made.value.dtype == np.float64 and made.value.sum() == 6.0
    total = runner.run(np.sum, np.arange(10, dtype=np.int32), timeout_s=60, environment=env)  # and back
    assert total.status == "ok" and total.value == 45 and isinstance(total.value, np.integer)


def test_a_worker_after_the_first_costs_a_fork(env: Environment, runner: ProcessRunner) -> None:
    runner.run(package_version, "numpy", timeout_s=60, environment=env)  # starts the server
    started = time.perf_counter()
    for _ in range(5):
        assert runner.run(package_version, "numpy", timeout_s=60, environment=env).status == "ok"
    assert (time.perf_counter() - started) / 5 < 1.0  # an interpreter's start-up plus imports would be more


def test_crashes_timeouts_and_memory_become_statuses(env: Environment, runner: ProcessRunner, tmp_path: Path) -> None:
    crashed = runner.run(ctypes.string_at, 0, timeout_s=60, environment=env, log_path=tmp_path / "w.log")
    assert (crashed.status, crashed.error) == ("crashed", "worker worker died: SIGSEGV (segmentation fault)")
    slow = runner.run(time.sleep, 60, timeout_s=1, environment=env)
    assert slow.status == "timeout" and slow.wall_s < 30
    big = runner.run(bytearray, 800 << 20, timeout_s=60, memory_limit_mb=200, environment=env)
    assert big.status == "out_of_memory"
    failed = runner.run(int, "x", timeout_s=60, environment=env)
    assert failed.status == "error" and failed.error.startswith("ValueError: invalid literal for int()")


def test_a_dead_server_is_started_again(env: Environment, runner: ProcessRunner) -> None:
    server = server_for(env, ())
    server.process.kill()
    server.process.wait()
    assert runner.run(package_version, "numpy", timeout_s=60, environment=env).value == "1.26.4"


def test_the_inline_runner_refuses_another_environment(env: Environment) -> None:
    from request_dse.execute import InlineRunner

    outcome = InlineRunner().run(package_version, "numpy", timeout_s=60, environment=env)
    assert outcome.status == "error" and "cannot use the environment of probe 1.0 with numpy 1" in outcome.error


def test_a_killed_driver_takes_the_environments_server_and_workers_with_it(env: Environment, tmp_path: Path) -> None:
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(f"""
        import time
        from pathlib import Path
        from request_dse.envs import Environment, Lock
        from request_dse.execute import ProcessRunner
        if __name__ == "__main__":
            env = Environment(Lock({env.lock.text!r}, {env.lock.python!r}, "x"), Path({str(env.root)!r}))
            ProcessRunner().run(time.sleep, 600, timeout_s=900, environment=env)
    """))
    driver = subprocess.Popen([sys.executable, str(script)])
    deadline = time.monotonic() + 120
    server = worker = None
    while worker is None:
        assert driver.poll() is None and time.monotonic() < deadline, "no worker started"
        for proc in psutil.Process(driver.pid).children():
            if str(env.root) in " ".join(proc.cmdline()) and proc.children():
                server, worker = proc, proc.children()[0]
        time.sleep(0.1)
    driver.kill()
    driver.wait()
    deadline = time.monotonic() + 30
    while server.is_running() or worker.is_running():  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the server or its worker outlived the driver"
        time.sleep(0.1)
