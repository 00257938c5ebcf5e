"""The rpc target end to end on loopback: a real TVM RPC tracker and servers on 127.0.0.1.

A small study is tuned through the CLI on the rpc target (TVM builds here, uploads, times on
the server, reads outputs back); a server killed mid-measurement ends only its trial as
``run_error``; tracker and servers bind 127.0.0.1 by default.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from request_dse.testing.rpc import RpcCluster
from tests.conftest import study_doc

pytestmark = pytest.mark.timeout(420)


def rpc_target(tmp: Path, cluster: RpcCluster, name: str = "loop") -> None:
    (tmp / "targets").mkdir(exist_ok=True)
    (tmp / "targets" / f"{name}.yaml").write_text(yaml.safe_dump({
        "target": name, "kind": "rpc", "frameworks": ["tvm", "onnxruntime"],
        "threads": {"choices": [1]}, "power": {"idle_w": 2.0, "per_core_w": 1.0},
        "options": {"tracker": str(cluster.tracker), "key": cluster.key},
    }))


def rpc_study(tmp: Path, name: str, trials: int, **measure: Any) -> Path:
    doc = study_doc(name, target="loop", frameworks={"tvm": {"opt_level": [2, 3]}},
                    space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25],
                                          "model.resolution": [4, 8], "model.precision": ["fp32"]}},
                    budget={"trials": trials})
    doc["measure"].update(measure)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RpcCluster]:
    with RpcCluster(key="loopback", servers=1, log_dir=tmp_path_factory.mktemp("rpc-logs")) as running:
        yield running


def listening_hosts(pid: int) -> set[str]:
    pids = {pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))}
    return {c.laddr.ip for c in psutil.net_connections("tcp") if c.pid in pids and c.status == psutil.CONN_LISTEN}


def test_tracker_and_server_bind_loopback_by_default(cluster: RpcCluster) -> None:
    tracker, server = cluster.processes[0], cluster.servers[0]
    assert listening_hosts(tracker.pid) == {"127.0.0.1"}
    assert listening_hosts(server.pid) == {"127.0.0.1"}
    assert cluster.registered() == (1, 1)


def test_study_runs_through_the_tracker(cli, tmp_path: Path, cluster: RpcCluster) -> None:  # type: ignore[no-untyped-def]
    rpc_target(tmp_path, cluster)
    path = rpc_study(tmp_path, "rpc-ok", trials=3, repeats=2)
    result = cli("tune", path, "-q", "--no-export")
    assert result.code == 0, result
    report = json.loads(cli("report", path, "--json").out)
    trials = report["trials"]
    assert len(trials) == 3 and {t["status"] for t in trials} == {"ok"}, trials
    for trial in trials:
        metrics = trial["metrics"]
        assert metrics["accuracy_top1"] > 0.5                 # outputs were read back and scored
        assert metrics["samples"] >= 2 * 10                    # both sessions' samples, one per call
        assert 0 < metrics["latency_p50_ms"] < 50
        with np_load(trial["files"]["samples"]) as samples:
            assert len(samples.files) == 2


def np_load(path: str) -> Any:
    import numpy as np

    return np.load(path)


def test_onnxruntime_is_unavailable_on_rpc(cli, tmp_path: Path, cluster: RpcCluster) -> None:  # type: ignore[no-untyped-def]
    rpc_target(tmp_path, cluster)
    doc = study_doc("rpc-ort", target="loop")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc))
    result = cli("tune", tmp_path / "s.yaml", "-q")
    assert result.code == 2
    assert "frameworks.onnxruntime: backend unavailable on target 'loop'" in result.err
    assert "only TVM uploads" in result.err


def test_unknown_key_is_reported_before_the_study(cli, tmp_path: Path, cluster: RpcCluster) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "loop.yaml").write_text(yaml.safe_dump({
        "target": "loop", "kind": "rpc", "frameworks": ["tvm"],
        "options": {"tracker": str(cluster.tracker), "key": "no-such-device"}}))
    result = cli("tune", rpc_study(tmp_path, "rpc-key", trials=1), "-q")
    assert result.code == 2
    assert "no RPC server is registered under key 'no-such-device'" in result.err
    assert "keys there: loopback" in result.err


def test_server_killed_mid_measurement_ends_only_that_trial(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with RpcCluster(key="flaky", servers=2, log_dir=tmp_path) as flaky:
        rpc_target(tmp_path, flaky)
        (tmp_path / "targets" / "loop.yaml").write_text(
            (tmp_path / "targets" / "loop.yaml").read_text().replace("loopback", "flaky"))
        # The first measurement is long enough to be caught in the act.
        path = rpc_study(tmp_path, "rpc-kill", trials=3, min_time_s=4.0, max_time_s=6.0, min_runs=10)
        killed: list[int] = []

        def kill_first_busy_server() -> None:
            server = flaky.busy_server(timeout_s=300)
            if server is not None:
                time.sleep(1.0)  # into the timed runs
                killed.append(server.pid)
                flaky.kill(server)

        killer = threading.Thread(target=kill_first_busy_server, daemon=True)
        killer.start()
        result = cli("tune", path, "-q", "--no-export")
        killer.join(timeout=5)
        assert killed, "no server was ever seen serving"
        report = json.loads(cli("report", path, "--json").out)
    statuses = sorted(t["status"] for t in report["trials"])
    assert result.code == 0, result
    assert statuses == ["ok", "ok", "run_error"], report["trials"]
    failed = next(t for t in report["trials"] if t["status"] == "run_error")
    assert "remote" in failed["error"] and "key 'flaky'" in failed["error"], failed["error"]
