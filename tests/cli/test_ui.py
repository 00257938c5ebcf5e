"""`request-dse ui`: a busy port or a missing store is one line and exit 2; the server it starts
stops with it, however it is stopped."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _project(tmp_path: Path) -> Path:
    (tmp_path / "mlflow").mkdir()
    (tmp_path / "mlflow" / "mlflow.db").touch()  # an empty SQLite database is a store
    return tmp_path


def test_a_busy_port_is_one_line_and_exit_2(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(_project(tmp_path))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli("ui", "--port", str(port))
    assert result.code == 2, result
    assert result.out == "" and result.err.strip().splitlines() == [
        f"request-dse: error: port {port} on 127.0.0.1 is in use; another `request-dse ui` or MLflow server may be "
        "running: pass --port N"]


def test_no_store_says_where_it_looked_and_creates_none(cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    checkout = tmp_path / "elsewhere"
    (checkout / ".git").mkdir(parents=True)  # a git checkout that is not a request-dse project
    (checkout / "sub").mkdir()
    monkeypatch.chdir(checkout / "sub")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = cli("ui", "--port", str(_free_port()))
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err
    assert f"looked for {checkout / 'mlflow' / 'mlflow.db'}" in lines[0]
    assert "--study STUDY.yaml" in lines[0] and "MLFLOW_TRACKING_URI" in lines[0]
    assert not (checkout / "mlflow").exists()


def test_a_study_that_tracked_nothing_yet_is_refused(cli, write_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".git").mkdir()
    study = write_study("untracked", tracking={"enabled": True})
    result = cli("ui", "--study", study, "--port", str(_free_port()))
    assert result.code == 2 and "no tracking store" in result.err, result
    assert not (tmp_path / "mlflow" / "mlflow.db").exists()


def _start_ui(cwd: Path, port: int) -> tuple[subprocess.Popen[str], set[int]]:
    """`request-dse ui` serving; its process tree once the URL is printed."""
    exe = Path(sys.executable).with_name("request-dse")
    proc = subprocess.Popen([str(exe), "ui", "--port", str(port)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    url = f"http://127.0.0.1:{port}"
    line = proc.stdout.readline()
    while line and url not in line:  # the server's own lines come first
        line = proc.stdout.readline()
    assert url in line, "no URL printed"
    tree = {proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(recursive=True))}
    return proc, tree


def _alive(pids: set[int]) -> set[int]:
    out = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.add(pid)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_the_server_stops_with_the_command(tmp_path: Path, sig: signal.Signals) -> None:
    port = _free_port()
    proc, tree = _start_ui(_project(tmp_path), port)
    try:
        assert len(tree) >= 2, "the server runs in a child process"
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # it serves once the URL is printed
        proc.send_signal(sig)  # to the command alone, not its process group
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _alive(tree - {proc.pid}) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(tree - {proc.pid}), f"left running after {sig.name}: {_alive(tree)}"
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        for pid in _alive(tree):
            psutil.Process(pid).kill()
        if proc.stdout is not None:
            proc.stdout.close()
