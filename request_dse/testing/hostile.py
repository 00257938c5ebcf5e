"""Hostile and malformed inputs made at run time, for the reliability suite and its benchmark.

The static corpus ``tests/data/bad/`` holds inputs that can be committed as files; the cases
here need making: a file name with a newline, a FIFO, an environment variable, a read-only
mount, a bundle re-signed after an edit (:mod:`request_dse.testing.bundles`). Each case runs
``request-dse`` as a separate process and must end with exit code 2 and exactly one line on
stderr that contains the case's ``expect`` text -- within a deadline, and without a
traceback. ``tests/reliability/test_hostile.py`` runs every case; ``benchmarks/reliability.py``
counts them and records each one's time and peak memory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: Every case must be refused within this many seconds (the benchmark records the real figure).
DEADLINE_S = 120.0


@dataclass(frozen=True)
class Invocation:
    args: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    cleanup: Callable[[], None] | None = None


@dataclass(frozen=True)
class Case:
    name: str
    what: str                                   # the input, in words
    make: Callable[[Path], Invocation]          # builds the input under a fresh folder
    expect: str                                 # text the one error line must contain
    code: int = 2
    available: Callable[[], str | None] = lambda: None   # why it cannot run here, or None


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str
    wall_s: float
    peak_rss_mb: float

    def problems(self, case: Case) -> list[str]:
        """What is wrong with how ``request-dse`` handled ``case`` (empty: handled as it must be)."""
        lines = self.err.strip().splitlines()
        found = []
        if self.code != case.code:
            found.append(f"exit code {self.code}, expected {case.code}")
        if "Traceback" in self.err:
            found.append("a traceback")
        if case.code == 2 and len(lines) != 1:
            found.append(f"{len(lines)} lines on stderr, expected one")
        if case.expect not in self.err:
            found.append(f"stderr lacks {case.expect!r}")
        return found


def run(case: Case, folder: Path, *, deadline_s: float = DEADLINE_S) -> Outcome:
    """Make ``case`` under ``folder`` and run it: how it ended, its wall time and the peak
    resident memory of the ``request-dse`` process (from the kernel's accounting, ``wait4``)."""
    folder.mkdir(parents=True, exist_ok=True)
    call = case.make(folder)
    env = {**os.environ, "REQUEST_DSE_CACHE": str(folder / "cache"), **call.env}
    out_path, err_path = folder / ".stdout", folder / ".stderr"
    started = time.monotonic()
    try:
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "request_dse", *call.args], env=env,
                                    cwd=call.cwd or folder, stdout=out, stderr=err, start_new_session=True)
        status, usage, killed = _wait(proc.pid, started + deadline_s)
    finally:
        if call.cleanup is not None:
            call.cleanup()
    text_out = out_path.read_text(errors="replace")
    text_err = err_path.read_text(errors="replace")
    if killed:
        text_err += f"\n(killed after the deadline of {deadline_s:g} s)"
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    return Outcome(proc.returncode, text_out, text_err, time.monotonic() - started, usage.ru_maxrss / 1024)


def _wait(pid: int, deadline: float) -> tuple[int, Any, bool]:
    killed = False
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage, killed
        if time.monotonic() > deadline and not killed:
            os.killpg(pid, signal.SIGKILL)
            killed = True
        time.sleep(0.02)


# ---------------------------------------------------------------------------------------------
def small_study(name: str = "h") -> dict[str, object]:
    return {"name": name, "workload": "digits", "target": "local-cpu", "frameworks": ["onnxruntime"],
            "space": {"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25],
                                     "model.resolution": [4], "model.precision": ["fp32"]}},
            "objectives": [{"maximize": "accuracy_top1"}, {"minimize": "latency_p90_ms"}],
            "budget": {"trials": 1}, "tracking": {"enabled": False}, "confirm": {"enabled": False},
            "measure": {"warmup_runs": 1, "min_runs": 10, "min_time_s": 0.0, "max_time_s": 1.0, "repeats": 1}}


def _write(path: Path, doc: object) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def _newline_name(tmp: Path) -> Invocation:
    path = tmp / "study\nrequest-dse: reproduced.yaml"
    path.write_text("name: [unclosed\n")
    return Invocation(["space", str(path)])


def _fifo(tmp: Path) -> Invocation:
    path = tmp / "study.yaml"
    os.mkfifo(path)
    return Invocation(["space", str(path)])


def _cache_file(tmp: Path) -> Invocation:
    (tmp / "not-a-folder").write_text("x")
    return Invocation(["cache", "info"], env={"REQUEST_DSE_CACHE": str(tmp / "not-a-folder")})


def _cache_limit(value: str) -> Callable[[Path], Invocation]:
    return lambda tmp: Invocation(["cache", "info"], env={"REQUEST_DSE_CACHE_MAX_MB": value})


def _read_only_store(tmp: Path) -> Invocation:
    project = tmp / "project"
    (project / "mlflow").mkdir(parents=True)
    (project / ".git").mkdir()
    study = _write(project / "ro.yaml", {**small_study("ro"), "tracking": {"enabled": True}})
    store = project / "mlflow"
    subprocess.run(["mount", "--bind", str(store), str(store)], check=True, capture_output=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(store)], check=True, capture_output=True)
    return Invocation(["tune", str(study), "-q", "--no-export"], cwd=project,
                      cleanup=lambda: subprocess.run(["umount", "-l", str(store)], check=False))


def _can_mount() -> str | None:
    if os.geteuid() != 0:
        return "read-only bind mounts need root"
    probe = Path(f"/tmp/.request-dse-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        done = subprocess.run(["mount", "--bind", str(probe), str(probe)], capture_output=True)
        if done.returncode:
            return f"mount --bind is not allowed here ({done.stderr.strip()[:80]})"
        subprocess.run(["umount", str(probe)], check=False)
        return None
    finally:
        probe.rmdir()


CASES: tuple[Case, ...] = (
    Case("study-name-newline", "a study file whose name holds a newline and a fake verdict",
         _newline_name, "study\\nrequest-dse: reproduced.yaml: line 2, column 1: invalid YAML"),
    Case("study-fifo", "a study file that is a FIFO nobody writes to", _fifo,
         "is a FIFO (named pipe), not a regular file"),
    Case("cache-is-a-file", "REQUEST_DSE_CACHE pointing at a regular file", _cache_file, "is not a folder"),
    *(Case(f"cache-limit-{v}", f"REQUEST_DSE_CACHE_MAX_MB={v}", _cache_limit(v),
           f"must be a finite number of megabytes in [0, 1073741824]; got {v!r}") for v in ("inf", "nan", "1e400")),
    Case("mlflow-read-only", "the embedded MLflow store on a read-only mount", _read_only_store,
         "the MLflow store is not writable (Read-only file system)", available=_can_mount),
)
