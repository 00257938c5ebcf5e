"""Sandboxed workers: no network, a read-only view, a private temp dir, hard limits, and an answer
read as data only (bubblewrap is installed by tests/setup-system.sh)."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from request_dse.execute import sandbox
from request_dse.execute.sandbox import Isolation, SandboxRunner, isolation
from request_dse.testing import workers


@pytest.fixture
def listener() -> Iterator[int]:
    """A port on the host's loopback that accepts connections."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        yield srv.getsockname()[1]


def view(tmp_path: Path, port: int) -> dict:  # type: ignore[type-arg]
    (tmp_path / "bundle").mkdir()
    (tmp_path / "logs").mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("organizer's")
    host_tmp = Path(tempfile.gettempdir()) / f"request-dse-host-{os.getpid()}"
    host_tmp.write_text("x")
    try:
        runner = SandboxRunner(readonly=[tmp_path / "bundle"])
        out = runner.run(workers.sandbox_view, (port, (str(tmp_path / "bundle"), str(tmp_path / "logs")),
                                                (str(secret), str(host_tmp))),
                         timeout_s=60, memory_limit_mb=900, cores=(0,), log_path=tmp_path / "logs" / "w.log")
    finally:
        host_tmp.unlink()
    assert out.status == "ok", out
    return out.value


def test_bubblewrap_isolates_the_worker(tmp_path: Path, listener: int) -> None:
    assert isolation().kind == "bubblewrap", isolation()
    seen = view(tmp_path, listener)
    assert seen["network"] is False                          # the host's loopback is out of reach
    assert seen["writable"] == [str(tmp_path / "logs")]      # the bundle is read-only
    assert seen["readable"] == []                            # neither other files nor the host's /tmp
    assert seen["caps"] == "0000000000000000"
    assert seen["data_limit"] == 900 << 20 and seen["core_limit"] == 0 and seen["cores"] == [0]


def test_without_bubblewrap_the_limits_still_hold(tmp_path: Path, listener: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "isolation", lambda: Isolation("limits only", "test"))
    seen = view(tmp_path, listener)
    assert seen["data_limit"] == 900 << 20 and seen["core_limit"] == 0 and seen["cores"] == [0]
    assert seen["tmp"] == []                                 # a private, empty temp dir


def test_limits_and_failures_are_values(tmp_path: Path) -> None:
    runner = SandboxRunner()
    log = tmp_path / "w.log"
    assert runner.run(workers.allocate, 100, timeout_s=60, memory_limit_mb=900, log_path=log).value == 100 << 20
    oom = runner.run(workers.allocate, 2000, timeout_s=60, memory_limit_mb=900, log_path=log)
    assert oom.status == "out_of_memory" and "MemoryError" in oom.error
    slow = runner.run(workers.busy, 60.0, timeout_s=1, memory_limit_mb=900, log_path=log)
    assert slow.status == "timeout"
    raised = runner.run(workers.chatty, 3, timeout_s=60, memory_limit_mb=900, log_path=log)
    assert raised.status == "error" and "ValueError: after printing" in raised.error and "line 2" in raised.log_tail


def test_the_answer_is_data_never_code(tmp_path: Path) -> None:
    """Only values and the records the caller names come back: no pickle is read from a worker."""
    out = SandboxRunner().run(workers.forge, 0, timeout_s=60, memory_limit_mb=900, log_path=tmp_path / "w.log")
    assert out.status == "error" and "cannot send back a Forged" in out.error


def test_an_answer_naming_other_records_is_refused(tmp_path: Path) -> None:
    import json

    import numpy as np

    from request_dse.execute import _transfer
    from request_dse.targets import SessionResult

    _transfer.write(tmp_path, "ok", SessionResult(np.arange(3), 0.1, 2.0, 0.3))
    status, value = _transfer.read(tmp_path, [SessionResult])
    assert status == "ok" and isinstance(value, SessionResult) and value.samples_ns.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="record 'SessionResult' is not one the caller expects"):
        _transfer.read(tmp_path, [])
    doc = {"status": "ok", "value": {"__record__": "SessionResult", "fields": {"__class__": 1}}}
    (tmp_path / _transfer.RESULT_JSON).write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="has fields it does not declare"):
        _transfer.read(tmp_path, [SessionResult])


def test_a_scratch_folder_is_a_private_copy(tmp_path: Path, listener: int) -> None:
    """A cache inside the read-only bundle that a library writes to is shown as a writable copy."""
    cache = tmp_path / "bundle" / "artifact" / "inductor"
    cache.mkdir(parents=True)
    (cache / "kernel.so").write_text("compiled")
    runner = SandboxRunner(readonly=[tmp_path / "bundle"], scratch=[cache])
    out = runner.run(workers.sandbox_view, (listener, (str(cache), str(tmp_path / "bundle")), (str(cache / "kernel.so"),)),
                     timeout_s=60, memory_limit_mb=900, log_path=tmp_path / "logs" / "w.log")
    assert out.status == "ok", out
    assert out.value["writable"] == [str(cache)] and out.value["readable"] == [str(cache / "kernel.so")]
    assert sorted(p.name for p in cache.iterdir()) == ["kernel.so"]  # the bundle itself is unchanged
