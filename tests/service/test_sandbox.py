"""The sandbox of validation jobs, from inside: what code run in it can and cannot reach, in both
sandboxes (bubblewrap, installed by tests/setup-system.sh, and the process fallback), and a job
stopped at its wall-clock limit with nothing left running."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import psutil
import pytest

from request_dse.service.runner import JobRequest, run_job
from request_dse.service.sandbox import bubblewrap, sandbox
from request_dse.study import REPO_ROOT
from tests.service.conftest import archive

PROBE = textwrap.dedent("""
    import json, os, socket, sys
    from pathlib import Path
    from request_dse.service.jobchild import leave_network, limit
    job, bundle, hidden, port, mode = sys.argv[1:6]
    out = {}
    if mode == "process":
        out["network_note"] = leave_network()
    out["limits"] = limit(512, 30)
    try:
        socket.create_connection(("127.0.0.1", int(port)), timeout=3).close()
        out["connect"] = "connected"
    except OSError as exc:
        out["connect"] = type(exc).__name__
    def write(path):
        try:
            Path(path).write_text("x")
            return "written"
        except OSError as exc:
            return exc.strerror
    out["job"] = write(Path(job) / "ok.txt")
    out["bundle"] = write(Path(bundle) / "planted.txt")
    out["outside"] = write(Path(sys.argv[6]) / "planted-by-a-bundle.txt")
    out["hidden"] = sorted(os.listdir(hidden)) if os.path.isdir(hidden) else None
    import resource
    out["as_mb"] = resource.getrlimit(resource.RLIMIT_AS)[0] // 2**20
    print(json.dumps(out))
""")


@pytest.fixture
def listener() -> int:
    """A TCP server on 127.0.0.1 that a sandboxed process must not reach."""
    server = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=lambda: [server.accept() for _ in range(2)], daemon=True).start()
    return int(server.getsockname()[1])


@pytest.mark.parametrize("mode", ["bubblewrap", "process"])
def test_sandboxed_code_has_no_network_and_writes_only_its_own_folder(tmp_path: Path, listener: int,
                                                                       mode: str) -> None:
    if mode == "bubblewrap":
        assert bubblewrap()[0] is not None, f"{bubblewrap()[1]}: run tests/setup-system.sh (as root)"
    job, bundle, hidden = tmp_path / "job", tmp_path / "job" / "bundle", tmp_path / "secret"
    # bubblewrap: the project itself (outside /tmp, which it replaces); the process sandbox does not protect
    # files, so a folder of the test stands for them there
    outside = REPO_ROOT / "tests" if mode == "bubblewrap" else tmp_path / "outside"
    for folder in (job / "work", bundle, hidden, outside):
        folder.mkdir(parents=True, exist_ok=True)
    (hidden / "tournament.db").write_text("tokens")
    bundle.chmod(0o555)
    box = sandbox(mode, job, bundle, [hidden], job / "work")
    assert box.kind == mode
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO_ROOT)}
    try:
        done = subprocess.run([*box.prefix, sys.executable, "-c", PROBE, str(job), str(bundle), str(hidden),
                               str(listener), mode, str(outside)], capture_output=True, text=True, timeout=120,
                              env=env, cwd=job / "work")
    finally:
        planted = outside / "planted-by-a-bundle.txt"
        written = planted.exists()
        if mode == "bubblewrap":
            planted.unlink(missing_ok=True)
    assert not (mode == "bubblewrap" and written), "a sandboxed job wrote into the project"
    assert done.returncode == 0, done.stderr
    seen = __import__("json").loads(done.stdout.strip().splitlines()[-1])
    assert seen["connect"] != "connected", seen
    assert seen["job"] == "written" and seen["as_mb"] == 512 and "as" in seen["limits"]
    if mode == "bubblewrap":
        assert seen["outside"] == "Read-only file system" and seen["bundle"] == "Read-only file system"
        assert seen["hidden"] == [], "the tournament's database folder is visible to the job"
        assert "no network" in box.description and "read-only file system" in box.description
    else:  # what the process sandbox does not do, it says
        assert seen["network_note"].startswith("no network")
        assert seen["outside"] == "written" and "file system not isolated" in box.description
    bundle.chmod(0o755)


def test_the_limits_apply_to_what_the_job_starts(tmp_path: Path) -> None:
    code = ("from request_dse.service.jobchild import limit; limit(300, 5); import subprocess, sys; "
            "print(subprocess.run([sys.executable, '-c', "
            "'import resource; print(resource.getrlimit(resource.RLIMIT_AS)[0])'],"
            " capture_output=True, text=True).stdout)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert int(done.stdout.split()[-1]) == 300 * 2**20, done


def test_a_job_past_its_wall_clock_is_stopped_with_nothing_left(tmp_path: Path, slow_bundle: Path) -> None:
    target = (REPO_ROOT / "targets" / "local-cpu.yaml").read_text()
    request = JobRequest(987654, "e", "local-cpu", target, 0.25, 0.0, 3.0, 8192, "auto", ())
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    result = run_job(request, archive(slow_bundle, tmp_path))
    assert result["status"] == "failed" and "longer than 3 s" in result["reason"], result
    assert "bubblewrap" in result["isolation"] and result["node"]
    left = [p for p in psutil.Process().children(recursive=True)
            if p.pid not in before and p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, f"processes of the stopped job still run: {left}"
    assert not list(Path(tempfile.gettempdir()).glob("request-dse-job987654-*")), "the job's folder is left"


def test_the_folders_of_jobs_whose_runner_was_killed_are_swept(tmp_path: Path) -> None:
    from request_dse.service.runner import sweep_job_dirs

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = Path(tempfile.mkdtemp(prefix="request-dse-job5-"))
    (stale / "owner.pid").write_text(str(dead.pid))
    (stale / "bundle").mkdir()
    (stale / "bundle").chmod(0o555)
    live = Path(tempfile.mkdtemp(prefix="request-dse-job6-"))
    (live / "owner.pid").write_text(str(os.getpid()))
    sweep_job_dirs()
    assert not stale.exists() and live.exists()
    (live / "owner.pid").unlink()
    live.rmdir()
