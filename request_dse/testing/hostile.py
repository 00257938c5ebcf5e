"""Hostile and malformed inputs made at run time, for the reliability suite and its benchmark.

The static corpus ``tests/data/bad/`` holds inputs that can be committed as files; the cases
here need making: a file name with a newline, a FIFO, an environment variable, a read-only
mount; hostile bundles are in :mod:`request_dse.testing.bundle_cases`. Each case runs
``request-dse`` as a separate process and must end with its exit code (2 for bad input, with
exactly one line on stderr) and the case's ``expect`` text in its output -- within a deadline,
without a traceback, and with whatever ``verify`` checks of what it left behind.
``tests/reliability/test_hostile.py`` runs every case; ``benchmarks/reliability.py`` counts them
and records each one's time and peak memory.
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

import yaml

from request_dse.testing.bundles import Kit, small_study

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
    make: Callable[[Path, Kit], Invocation]     # builds the input under a fresh folder
    expect: str                                 # text the output (stderr for exit code 2) must contain
    code: int = 2
    available: Callable[[], str | None] = lambda: None   # why it cannot run here, or None
    verify: Callable[[Path], list[str]] = lambda folder: []  # what is wrong with what the run left


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str
    wall_s: float
    peak_rss_mb: float

    def problems(self, case: Case, folder: Path) -> list[str]:
        """What is wrong with how ``request-dse`` handled ``case`` (empty: handled as it must be)."""
        lines = self.err.strip().splitlines()
        found = []
        if self.code != case.code:
            found.append(f"exit code {self.code}, expected {case.code}")
        if "Traceback" in self.err:
            found.append("a traceback")
        if case.code == 2 and len(lines) != 1:
            found.append(f"{len(lines)} lines on stderr, expected one")
        if case.expect not in (self.err if case.code == 2 else self.out + self.err):
            found.append(f"the output lacks {case.expect!r}")
        return found + case.verify(folder)


def run(case: Case, folder: Path, kit: Kit, *, deadline_s: float = DEADLINE_S) -> Outcome:
    """Make ``case`` under ``folder`` (bundles copied from ``kit``) and run it: how it ended, its
    wall time and the peak resident memory of the ``request-dse`` process (from the kernel's
    accounting, ``wait4``; its sandboxed children are limited on their own)."""
    folder.mkdir(parents=True, exist_ok=True)
    call = case.make(folder, kit)
    env = {**os.environ, "REQUEST_DSE_CACHE": str(folder / "cache"),
           "REQUEST_DSE_VALIDATIONS": str(folder / "validations.jsonl"), **call.env}
    out_path, err_path, peak_path = folder / ".stdout", folder / ".stderr", folder / ".peak"
    started = time.monotonic()
    try:
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen([sys.executable, "-S", "-c", _MEASURED, str(peak_path), sys.executable, "-m",
                                     "request_dse", *call.args], env=env, cwd=call.cwd or folder, stdout=out,
                                    stderr=err, start_new_session=True)
        status, killed = _wait(proc.pid, started + deadline_s)
    finally:
        if call.cleanup is not None:
            call.cleanup()
    text_out = out_path.read_text(errors="replace")
    text_err = err_path.read_text(errors="replace")
    if killed:
        text_err += f"\n(killed after the deadline of {deadline_s:g} s)"
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    try:
        peak = float(peak_path.read_text())
    except (OSError, ValueError):
        peak = float("nan")
    return Outcome(proc.returncode, text_out, text_err, time.monotonic() - started, peak)


#: A small launcher: the kernel charges a child the peak memory of the process it was forked
#: from, so ``request-dse`` is started from this small one, which records the largest peak of
#: the run (``request-dse`` and the workers it waited for) in MiB and exits with its status.
_MEASURED = """
import os, resource, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status = os.waitpid(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024))
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
"""


def _wait(pid: int, deadline: float) -> tuple[int, bool]:
    killed = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status, killed
        if time.monotonic() > deadline and not killed:
            os.killpg(pid, signal.SIGKILL)
            killed = True
        time.sleep(0.02)


# ---------------------------------------------------------------------------------------------
def _write(path: Path, doc: object) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def _newline_name(tmp: Path, kit: Kit) -> Invocation:
    path = tmp / "study\nrequest-dse: reproduced.yaml"
    path.write_text("name: [unclosed\n")
    return Invocation(["space", str(path)])


def _fifo(tmp: Path, kit: Kit) -> Invocation:
    path = tmp / "study.yaml"
    os.mkfifo(path)
    return Invocation(["space", str(path)])


def _cache_file(tmp: Path, kit: Kit) -> Invocation:
    (tmp / "not-a-folder").write_text("x")
    return Invocation(["cache", "info"], env={"REQUEST_DSE_CACHE": str(tmp / "not-a-folder")})


def _cache_limit(value: str) -> Callable[[Path, Kit], Invocation]:
    return lambda tmp, kit: Invocation(["cache", "info"], env={"REQUEST_DSE_CACHE_MAX_MB": value})


def _read_only_store(tmp: Path, kit: Kit) -> Invocation:
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
