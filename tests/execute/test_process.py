"""Worker processes: every way a worker can end becomes a value, nothing leaks."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest

from request_dse.execute import InlineRunner, ProcessRunner
from request_dse.testing import workers
from request_dse.testing.faults import strike


@pytest.fixture
def runner() -> ProcessRunner:
    r = ProcessRunner()
    yield r
    r.close()


def _no_children_left() -> None:
    me = psutil.Process()
    # multiprocessing's forkserver and resource tracker are the only long-lived children
    alive = [c for c in me.children(recursive=False)
             if not any(k in " ".join(c.cmdline()) for k in ("forkserver", "resource_tracker"))]
    assert alive == [], alive


def test_result_environment_and_affinity(runner: ProcessRunner) -> None:
    core = max(os.sched_getaffinity(0))
    out = runner.run(workers.environment, ("TVM_NUM_THREADS",), timeout_s=30, cores=(core,),
                     env={"TVM_NUM_THREADS": "3"})
    assert out.status == "ok"
    assert out.value["env"] == {"TVM_NUM_THREADS": "3"}
    assert out.value["cores"] == [core]
    assert out.value["pgid_is_pid"]
    assert out.value["pid"] != os.getpid()
    _no_children_left()


@pytest.mark.parametrize(("fault", "status", "text"), [
    ("segfault", "crashed", "SIGSEGV"),
    ("abort", "crashed", "SIGABRT"),
    ("exit", "crashed", "exit code 17"),
    ("raise", "error", "RuntimeError: injected fault"),
])
def test_failures_become_values(runner: ProcessRunner, tmp_path: Path, fault: str, status: str, text: str) -> None:
    out = runner.run(strike, fault, timeout_s=30, label="build", log_path=tmp_path / "log")
    assert out.status == status
    assert text in out.error
    _no_children_left()


def test_timeout_kills_the_worker(runner: ProcessRunner) -> None:
    started = time.monotonic()
    out = runner.run(strike, "hang", timeout_s=1.0, label="measure")
    assert out.status == "timeout"
    assert "measure timed out: killed after 1 s" in out.error
    assert time.monotonic() - started < 10
    _no_children_left()


def test_memory_limit(runner: ProcessRunner) -> None:
    out = runner.run(strike, "oom", timeout_s=60, memory_limit_mb=300)
    assert out.status == "out_of_memory"
    assert "exceeded its memory limit of 300 MB" in out.error
    _no_children_left()


def test_log_tail_explains_a_failure(runner: ProcessRunner, tmp_path: Path) -> None:
    out = runner.run(workers.chatty, 40, timeout_s=30, log_path=tmp_path / "w.log")
    assert out.status == "error" and "ValueError: after printing" in out.error
    assert "line 39" in out.log_tail and "line 0\n" not in out.log_tail
    assert "--- log tail ---" in out.describe()
    assert "Traceback" in (tmp_path / "w.log").read_text()


def test_unpicklable_result_is_an_error(runner: ProcessRunner) -> None:
    out = runner.run(workers.unpicklable, None, timeout_s=30)
    assert out.status == "error" and "could not be sent back" in out.error


def test_paused_time_does_not_count_against_the_timeout(runner: ProcessRunner) -> None:
    result = {}

    def work() -> None:
        result["out"] = runner.run(workers.busy, 1.0, timeout_s=2.0, label="build", cores=(0,))

    thread = threading.Thread(target=work)
    thread.start()
    time.sleep(0.4)
    paused = runner.pause([0])
    assert len(paused) == 1
    time.sleep(2.0)  # longer than the timeout, but paused
    runner.resume(paused)
    thread.join(timeout=30)
    assert result["out"].status == "ok"
    assert result["out"].wall_s > 2.4


def test_close_interrupts_running_workers(runner: ProcessRunner) -> None:
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("out", runner.run(strike, "hang", timeout_s=60)))
    thread.start()
    time.sleep(0.5)
    runner.close()
    thread.join(timeout=10)
    assert result["out"].status == "interrupted"
    assert runner.run(workers.busy, 0.0, timeout_s=5).status == "interrupted"
    _no_children_left()


def test_inline_runner_turns_exceptions_into_values() -> None:
    out = InlineRunner().run(strike, "raise", timeout_s=1)
    assert out.status == "error" and "RuntimeError" in out.error
    assert InlineRunner().run(workers.busy, 0.0, timeout_s=1).status == "ok"


def test_sweep_removes_the_temp_dirs_of_dead_runs_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run killed with kill -9 leaves its multiprocessing temp dir; the next run removes it,
    and leaves alone those of live runs and those request-dse did not mark."""
    import subprocess
    import sys

    from request_dse.execute import sweep_dead_temp_dirs

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    for name, owner in (("pymp-dead", gone.pid), ("pymp-live", os.getpid()), ("pymp-unmarked", None)):
        (tmp_path / name).mkdir()
        if owner is not None:
            (tmp_path / name / "request-dse.pid").write_text(str(owner))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    sweep_dead_temp_dirs()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pymp-live", "pymp-unmarked"]


MAIN_SCRIPT = '''
import os
import signal
if __name__ != "__main__":  # run again as __mp_main__, where multiprocessing prepares a worker
    with open(os.environ["RUNS_OF_MAIN"], "a") as f:
        f.write(f"{os.getpid()}\\n")


def square(x):
    return x * x


if __name__ == "__main__":
    from request_dse.execute import ProcessRunner

    runner = ProcessRunner()
    runner.start()
    print([runner.run(square, i, timeout_s=60).value for i in range(3)])
    runner.close()
'''


def test_a_script_driver_is_run_once_by_the_worker_server_not_by_every_worker(tmp_path: Path) -> None:
    """Functions of the driver's own script reach its workers, and the script runs once for all of them
    (in the server), not before every worker's work: that cost 60-70 ms a worker from the CLI."""
    import subprocess
    import sys

    script, runs = tmp_path / "driver.py", tmp_path / "runs"
    script.write_text(MAIN_SCRIPT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "RUNS_OF_MAIN": str(runs)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[0, 1, 4]"
    assert len(runs.read_text().splitlines()) == 1


def test_a_judges_first_look_in_a_fresh_worker_imports_nothing(runner: ProcessRunner, tmp_path: Path) -> None:
    """Every judging session (early stopping) is a fresh worker, and its judge's first look is on a
    stopped candidate's bill: whatever it imports there (NumPy's median and quantiles import
    ``numpy.ma``, tens of milliseconds) the worker server must have imported once for all."""
    import numpy as np

    from request_dse.evaluate.early_stop import snapshot
    from request_dse.evaluate.judge import SessionJudge
    from request_dse.workloads import PreparedModel

    labels = np.arange(100) % 10
    np.savez(tmp_path / "data.npz", x_eval=np.zeros((100, 1)), y_eval=labels, x_check=np.zeros((1, 1)))
    prepared = PreparedModel("m", tmp_path / "m.onnx", "", "x", (1,), 10, "fp32", tmp_path / "data.npz",
                             tmp_path / "ref.npy", (0.0, 0.0))
    front = snapshot(["accuracy_top1", "latency_p90_ms"], ["maximize", "minimize"], [(0, (0.99, 0.01))],
                     host_probe_ns=5000.0)
    judge = SessionJudge(front, 0.1, 1, 16, 0.0, {}, prepared)
    out = runner.run(workers.first_look_imports, judge, timeout_s=60)
    assert out.status == "ok", out.error
    assert out.value == []


def test_a_measurement_worker_waits_forked_ahead_and_runs_one_job(runner: ProcessRunner, tmp_path: Path) -> None:
    """The next measurement worker is forked ahead of its job and waits: the next measurement runs
    in it as in a worker forked for it (its own process group, the job's cores and environment),
    and it runs that job only: a new one waits for the next. Builds are not forked ahead. Closing
    the runner ends the worker that waits."""
    core = max(os.sched_getaffinity(0))
    first = runner.run(workers.environment, ("TVM_NUM_THREADS",), timeout_s=30, label="measure")
    assert first.status == "ok", first.error
    waiting = runner.ready("measure")
    assert waiting is not None and waiting != first.value["pid"] and psutil.pid_exists(waiting)
    out = runner.run(workers.environment, ("TVM_NUM_THREADS",), timeout_s=30, cores=(core,), label="measure",
                     env={"TVM_NUM_THREADS": "3"}, log_path=tmp_path / "measure.log")
    assert out.status == "ok", out.error
    assert out.value["pid"] == waiting
    assert out.value["env"] == {"TVM_NUM_THREADS": "3"} and out.value["cores"] == [core] and out.value["pgid_is_pid"]
    assert [runner.run(workers.jobs_run, None, timeout_s=30, label="measure").value for _ in range(3)] == [1, 1, 1]
    assert runner.run(workers.environment, (), timeout_s=30, label="build").status == "ok"
    assert runner.ready("build") is None
    last = runner.ready("measure")
    assert last is not None and last != waiting
    runner.close()
    assert runner.ready("measure") is None
    assert not psutil.pid_exists(last) or psutil.Process(last).status() == psutil.STATUS_ZOMBIE


def test_a_worker_forked_ahead_that_died_is_replaced_by_a_fresh_one(runner: ProcessRunner) -> None:
    """A worker that died while it waited (killed from outside) never gets the job: it goes to a
    worker forked for it."""
    assert runner.run(workers.jobs_run, None, timeout_s=30, label="measure").status == "ok"
    waiting = runner.ready("measure")
    assert waiting is not None
    os.kill(waiting, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and psutil.pid_exists(waiting) \
            and psutil.Process(waiting).status() != psutil.STATUS_ZOMBIE:
        time.sleep(0.01)
    out = runner.run(workers.environment, (), timeout_s=30, label="measure")
    assert out.status == "ok", out.error
    assert out.value["pid"] != waiting
