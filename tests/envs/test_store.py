"""Environments in the shared cache: created once under a lock, reused, a failure remembered,
evicted whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from request_dse import cachedir
from request_dse.envs import EnvError, Lock, ensure, environments, failure, find, prune, resolve, spec_for
from request_dse.envs.store import META, USED, root
from request_dse.testing.index import LocalIndex


def probe_lock(version: str, **extra: str) -> Lock:
    return resolve(spec_for(f"probe {version}", "request-dse-probe", version, extra=extra,
                            checks=("request_dse_probe",)))


def run(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-I", "-c", code], capture_output=True, text=True, timeout=120)


def test_an_environment_holds_its_lock_and_nothing_of_request_dses_own(probe: LocalIndex) -> None:
    lock = probe_lock("1.0", pyyaml="6.0.2")  # a lock no other test uses: created here
    env, created_s = ensure(lock)
    assert env.root == root() / lock.id and created_s > 0
    assert run(env.python, "import request_dse_probe; print(request_dse_probe.__version__)").stdout.strip() == "1.0"
    for module in ("optuna", "mlflow", "onnxruntime"):  # isolated: not even through the driver's site-packages
        assert run(env.python, f"import {module}").returncode != 0
    meta = json.loads((env.root / META).read_text())
    assert meta["id"] == lock.id and meta["packages"]["request-dse-probe"] == "1.0"
    assert meta["packages"]["pyyaml"] == "6.0.2"
    assert meta["label"] == "probe 1.0"
    again, second_s = ensure(lock)
    assert again == env and second_s == 0.0


def test_processes_asking_at_once_share_one_creation(probe: LocalIndex) -> None:
    lock = probe_lock("2.0", pyyaml="6.0.1")  # a lock no other test uses: created here
    assert find(lock) is None
    code = textwrap.dedent(f"""
        import json, sys
        from request_dse.envs import Lock, ensure
        env, seconds = ensure(Lock({lock.text!r}, {lock.python!r}, "probe 2.0"))
        print(json.dumps([str(env.root), seconds]))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    results = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert {r[0] for r in results} == {str(root() / lock.id)}
    assert [p.name for p in root().iterdir() if p.name.startswith(f".{lock.id}")] == []  # no half-made folder
    assert find(lock) is not None


def test_a_failed_creation_is_remembered_with_the_installers_message(probe: LocalIndex) -> None:
    lock = probe_lock("4.0")  # resolves (its metadata is served), but its wheel is missing
    wheel = "/files/request_dse_probe-4.0-py3-none-any.whl"
    with pytest.raises(EnvError) as first:
        ensure(lock)
    message = str(first.value)
    assert message.startswith("the environment of probe 4.0 could not be created: Failed to download")
    assert "404" in message and failure(lock) == message
    tried = probe.requests[wheel]
    with pytest.raises(EnvError, match="probe 4.0 could not be created"):
        ensure(lock)
    assert probe.requests[wheel] == tried  # not tried again
    assert [i.failure for i in environments() if i.id == lock.id] == [message]
    assert lock.id in [i.id for i in prune(failed=True)] and failure(lock) is None


def test_a_library_that_does_not_import_fails_the_creation_with_its_error() -> None:
    lock = resolve(spec_for("onnxruntime 1.17.3", "onnxruntime", "1.17.3", checks=("onnxruntime",)))
    with pytest.raises(EnvError, match=r"import onnxruntime fails in it: A module that was compiled using NumPy 1\.x"):
        ensure(lock)
    assert find(lock) is None and not (root() / lock.id).exists()


def test_the_caches_size_limit_evicts_an_environment_whole(probe: LocalIndex, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUEST_DSE_CACHE", str(tmp_path / "cache"))
    lock = probe_lock("1.0")
    env, _ = ensure(lock)
    entries = [e for e in cachedir.entries(tmp_path / "cache") if e.path.parent.name == "envs"]
    assert [e.path for e in entries] == [env.root] and entries[0].size > 1 << 20
    assert cachedir.prune(tmp_path / "cache", limit=0).entries == 0  # just used: kept
    os.utime(env.root / USED, (1, 1))
    for path in env.root.rglob("*"):
        os.utime(path, (1, 1), follow_symlinks=False)
    cachedir.prune(tmp_path / "cache", limit=0)
    assert not env.root.exists() and find(lock) is None
    again, created_s = ensure(lock)
    assert again.root == env.root and created_s > 0
