"""Services request-dse starts bind 127.0.0.1 unless told otherwise, and say so when told."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(pid: int, port: int, timeout: float = 120.0) -> set[str]:
    """The addresses the process tree of ``pid`` listens on at ``port`` (waits for the first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pids = {pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))}
        except psutil.NoSuchProcess:
            return set()
        found = {c.laddr.ip for c in psutil.net_connections("tcp")
                 if c.pid in pids and c.status == psutil.CONN_LISTEN and c.laddr.port == port}
        if found:
            return found
        time.sleep(0.25)
    return set()


def _start(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(args, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.communicate()


@pytest.mark.slow
def test_mlflow_ui_binds_loopback(tmp_path: Path) -> None:
    port = _free_port()
    (tmp_path / "mlflow").mkdir()
    (tmp_path / "mlflow" / "mlflow.db").touch()
    exe = str(Path(sys.executable).with_name("request-dse"))
    proc = _start([exe, "ui", "--port", str(port)], cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        assert _listening(proc.pid, port) == {"127.0.0.1"}
        assert proc.stdout is not None
        first = ""
        while url not in first:  # printed once the UI answers (a little after it listens)
            line = proc.stdout.readline()
            if not line:
                break
            first += line
    finally:
        out, err = _stop(proc)
    assert url in first + out and "warning" not in err


@pytest.mark.slow
def test_shared_tracking_server_script_binds_loopback(tmp_path: Path) -> None:
    port = _free_port()
    env = {"PORT": str(port), "WORKERS": "1", "BACKEND": f"sqlite:///{tmp_path / 'mlflow.db'}",
           "ARTIFACTS": str(tmp_path / "artifacts"), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = _start(["sh", str(REPO / "mlflow" / "server.sh")], cwd=tmp_path, env=env)
    try:
        assert _listening(proc.pid, port) == {"127.0.0.1"}
    finally:
        _stop(proc)


def test_a_public_bind_says_what_it_exposes(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Started with --host 0.0.0.0, the UI warns before it serves (here: mlflow is missing)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mlflow").mkdir()
    (tmp_path / "mlflow" / "mlflow.db").touch()
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    result = cli("ui", "--host", "0.0.0.0", "--port", str(_free_port()))
    assert "listens on 0.0.0.0" in result.err and "read and change every experiment" in result.err
