"""No measurement under load, across processes that share a machine (the Ray executor's workers).

Builds and measurements register in one folder per machine: a measurement pauses the builds
on its cores, and a build waits while a measurement holds them.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from request_dse.backends import build_candidate
from request_dse.evaluate import make_job
from request_dse.execute.host import HostCores, HostRunner
from request_dse.study import load_plan
from request_dse.testing import workers

ALL = tuple(sorted(os.sched_getaffinity(0)))


@pytest.fixture
def runner(tmp_path: Path) -> Any:
    r = HostRunner(host=HostCores(tmp_path / "host"))
    assert r.run(workers.busy, 0.0, timeout_s=300).status == "ok"  # the forkserver is up (slow on a busy machine)
    yield r
    r.close()


def _start_build(runner: HostRunner, seconds: float, cores: tuple[int, ...] = ALL,
                 timeout_s: float = 60) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: out.setdefault("outcome", runner.run(
        workers.busy, seconds, timeout_s=timeout_s, cores=cores, label="build")))
    thread.start()
    deadline = time.monotonic() + 30
    while not list((runner.host.root / "builds").iterdir()):
        assert time.monotonic() < deadline, "the build never registered"
        time.sleep(0.02)
    return thread, out


def test_a_measurement_pauses_the_builds_on_its_cores(runner: HostRunner) -> None:
    thread, out = _start_build(runner, 1.0, timeout_s=3.5)
    time.sleep(0.3)
    with runner.host.measuring(ALL[-1:]) as paused:
        assert len(paused) == 1
        assert psutil.Process(paused[0]).status() == psutil.STATUS_STOPPED
        time.sleep(4.0)
    thread.join(timeout=30)
    outcome = out["outcome"]
    assert outcome.status == "ok"  # the 4 s paused did not count against the 3.5 s timeout
    assert outcome.wall_s > 4.0
    assert outcome.value < 0.9  # no CPU while paused: busy() spins on wall time, so it ended at once


def test_a_build_waits_while_a_measurement_holds_its_cores(runner: HostRunner) -> None:
    with runner.host.measuring(ALL):
        out: dict[str, Any] = {}
        started = time.monotonic()
        thread = threading.Thread(target=lambda: out.setdefault("outcome", runner.run(
            workers.busy, 0.0, timeout_s=30, cores=ALL, label="build")))
        thread.start()
        time.sleep(1.0)
        assert "outcome" not in out and not list((runner.host.root / "builds").iterdir())
    thread.join(timeout=30)
    assert out["outcome"].status == "ok" and out["outcome"].wall_s < time.monotonic() - started - 0.9


def test_two_measurements_on_the_same_cores_take_turns(tmp_path: Path) -> None:
    host = HostCores(tmp_path / "host")
    spans = []

    def measure() -> None:
        with host.measuring(ALL[-1:]):
            start = time.monotonic()
            time.sleep(0.5)
            spans.append((start, time.monotonic()))

    threads = [threading.Thread(target=measure) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    (a0, a1), (b0, b1) = sorted(spans)
    assert b0 >= a1


def test_a_dead_measurement_releases_what_it_paused(runner: HostRunner) -> None:
    import json

    thread, out = _start_build(runner, 5.0)
    build_pid = next(int(p.name) for p in (runner.host.root / "builds").iterdir() if not p.suffix)
    entry = json.loads((runner.host.root / "builds" / str(build_pid)).read_text())
    os.kill(build_pid, 19)  # SIGSTOP, as a measurement would
    ghost = runner.host.root / "measuring" / "1-1"
    ghost.write_text(json.dumps({"pid": 2**22 + 7, "created": 0.0, "cores": list(ALL),
                                 "paused": [[build_pid, entry["created"]]]}))
    with runner.host.measuring(ALL[-1:]):  # finds the ghost, resumes the build, then pauses it again
        assert not ghost.exists()
    thread.join(timeout=30)
    assert out["outcome"].status == "ok"


@pytest.mark.slow
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("kind", ["ray", "local"])
def test_measurements_under_builds_match_measurements_alone(runner: HostRunner, write_study: Any, threads: int,
                                                            kind: str) -> None:
    """Medians with busy builds on the machine equal medians alone, within the reported CV.

    ``ray``: builds and measurement in unrelated workers, agreeing through the machine registry;
    ``local``: the local executor's runtime (one process runs both and pauses its own builds).
    """
    from request_dse.evaluate import latency_stats
    from request_dse.execute import LocalRuntime, run_measurement

    if threads > len(ALL):
        pytest.skip(f"needs {threads} cores")
    plan = load_plan(write_study("noload", measure={"warmup_runs": 20, "min_runs": 400, "min_time_s": 0.3,
                                                    "max_time_s": 3.0, "repeats": 3, "timeout_s": 60}))
    candidate = next(iter(plan.space.shuffled(0)))
    job = make_job(plan, 0, candidate)
    build = build_candidate(job.build)
    target = plan.target
    request = dataclasses.replace(job.session, artifact_dir=build.artifact_dir, prepared=build.prepared,
                                  threads=threads, score=False)
    local = LocalRuntime(runner, 2, target.build_cores())

    def measure() -> dict[str, float]:
        if kind == "local":
            result = local.measure(target, request)
        else:
            with runner.host.measuring(target.measure_cores(threads)):
                result = run_measurement(runner, target, request, None)
        assert result.status == "ok", result.error
        return latency_stats(result.sessions, 1)

    alone = measure()
    builds = [_start_build(runner, 60.0, cores=target.build_cores(), timeout_s=120)[0] for _ in range(2)]
    try:
        loaded = measure()
    finally:
        runner.close()
        for t in builds:
            t.join(timeout=30)
    a, b = alone["latency_p50_ms"], loaded["latency_p50_ms"]
    cv = max(alone["latency_cv"], loaded["latency_cv"])
    assert abs(b - a) / a <= cv, (alone, loaded)


def test_a_device_measured_elsewhere_holds_no_cores(runner: HostRunner) -> None:
    thread, out = _start_build(runner, 1.0)
    with runner.host.measuring(()) as paused:  # e.g. an RPC board: nothing of this machine is held
        assert paused == []
    thread.join(timeout=30)
    assert out["outcome"].status == "ok"


@pytest.mark.slow
@pytest.mark.parametrize("quiet", [False, True])
def test_a_quiet_measurement_pauses_the_builds_on_the_other_cores_too(runner: HostRunner, write_study: Any,
                                                                      quiet: bool) -> None:
    """A second look runs quiet (``Runtime.measure(quiet=True)``): a build on the build cores, which an
    ordinary measurement on its own core leaves running, is paused while it runs and resumed after."""
    from request_dse.execute import LocalRuntime

    if len(ALL) < 2:
        pytest.skip("needs 2 cores: with one, every measurement pauses every build")
    plan = load_plan(write_study("quiet", measure={"warmup_runs": 5, "min_runs": 20, "min_time_s": 1.5,
                                                   "max_time_s": 3.0, "repeats": 1, "timeout_s": 60}))
    job = make_job(plan, 0, next(iter(plan.space.shuffled(0))))
    build = build_candidate(job.build)
    target = plan.target
    request = dataclasses.replace(job.session, artifact_dir=build.artifact_dir, prepared=build.prepared,
                                  threads=1, score=False)
    assert not set(target.build_cores()) & set(target.measure_cores(1))
    local = LocalRuntime(runner, 1, target.build_cores())
    thread, out = _start_build(runner, 15.0, cores=target.build_cores(), timeout_s=120)
    pid = int(next((runner.host.root / "builds").iterdir()).name.split(".")[0])
    result: dict[str, Any] = {}
    measuring = threading.Thread(target=lambda: result.setdefault("r", local.measure(target, request, quiet=quiet)))
    measuring.start()
    seen = set()
    while measuring.is_alive():
        if local.measuring.get(target.name):
            seen.add(psutil.Process(pid).status())
        time.sleep(0.05)
    assert result["r"].status == "ok", result["r"].error
    assert (psutil.STATUS_STOPPED in seen) is quiet, seen
    assert psutil.Process(pid).status() != psutil.STATUS_STOPPED  # resumed
    thread.join(timeout=60)
    assert out["outcome"].status == "ok"
