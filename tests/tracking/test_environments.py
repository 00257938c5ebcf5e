"""Each trial's child run in MLflow carries the lock of the environment it ran in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from request_dse.testing.index import local_index
from request_dse.testing.probe import DISTRIBUTION, MODULE

pytestmark = pytest.mark.slow

MODEL = {"model.family": ["mobilenet"], "model.width": [0.25], "model.resolution": [8], "model.precision": ["fp32"]}


def test_a_trials_run_has_its_lock_as_an_artifact(write_study: Callable[..., Path], cli: Callable[..., Any],
                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUEST_DSE_PLUGINS", "request_dse.testing.faults,request_dse.testing.noop,"
                                              "request_dse.testing.probe")
    store = tmp_path / "mlflow.db"
    with local_index(tmp_path / "index", DISTRIBUTION, MODULE, ["1.0", "2.0"]) as index:
        monkeypatch.setenv("UV_EXTRA_INDEX_URL", index.url)
        path = write_study("tracked", frameworks={"probe": {"version": ["1.0", "2.0"]}}, space={"dimensions": MODEL},
                           budget={"trials": 2}, sampler={"name": "grid", "seed": 0},
                           tracking={"enabled": True, "uri": f"sqlite:///{store}", "experiment": "envs"})
        assert cli("tune", path, "-q").code == 0
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("envs")
    runs = [r for r in client.search_runs([experiment.experiment_id]) if r.data.tags["request_dse.role"] == "trial"]
    assert sorted(r.data.params["probe.version"] for r in runs) == ["1.0", "2.0"]
    for run in runs:
        version = run.data.params["probe.version"]
        artifacts = [a.path for a in client.list_artifacts(run.info.run_id, "environment")]
        assert artifacts == ["environment/environment.lock"]
        lock = Path(client.download_artifacts(run.info.run_id, "environment/environment.lock", str(tmp_path / version)))
        assert f"request-dse-probe=={version} --hash=sha256:" in lock.read_text()
        assert "env_time_s" in run.data.metrics
