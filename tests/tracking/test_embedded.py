"""With no configuration, runs go to the embedded SQLite store in mlflow/; `ui` serves it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import free_port, healthy


@pytest.mark.slow
def test_default_store_is_sqlite_under_the_project_mlflow_folder(cli, write_study, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".git").mkdir()  # tmp_path is the project: a checkout
    monkeypatch.chdir(tmp_path)
    path = write_study("embedded", tracking={"enabled": True}, budget={"trials": 2})
    tuned = cli("tune", path, "-q")
    assert tuned.code == 0, tuned
    store = tmp_path / "mlflow" / "mlflow.db"
    assert store.is_file() and (tmp_path / "mlflow" / "artifacts").is_dir()
    assert not (tmp_path / "mlflow" / "__init__.py").exists()
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("request-dse/digits")
    runs = client.search_runs([experiment.experiment_id], "tags.`request_dse.study` = 'embedded'")
    roles = sorted(r.data.tags["request_dse.role"] for r in runs)
    assert roles == ["study", "trial", "trial"]
    trial = next(r for r in runs if r.data.tags["request_dse.role"] == "trial")
    local = Path(trial.info.artifact_uri.removeprefix("file://"))
    assert local.is_relative_to(tmp_path / "mlflow" / "artifacts") and (local / "logs").is_dir()


@pytest.mark.slow
def test_ui_serves_the_embedded_store_on_localhost(tmp_path: Path) -> None:
    (tmp_path / "mlflow").mkdir()
    (tmp_path / "mlflow" / "mlflow.db").touch()  # an empty SQLite database: the store of a project
    port = free_port()
    exe = Path(sys.executable).with_name("request-dse")
    proc = subprocess.Popen([str(exe), "ui", "--port", str(port)], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        url = f"http://127.0.0.1:{port}"
        line = proc.stdout.readline()
        while line and url not in line:  # the server's own output comes first
            line = proc.stdout.readline()
        assert url in line and f"sqlite:///{tmp_path.resolve() / 'mlflow' / 'mlflow.db'}" in line
        deadline = time.monotonic() + 240
        while not healthy(url):
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "mlflow ui did not come up"
            time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
        if proc.stdout is not None:
            proc.stdout.close()
