"""The rpc target end to end on loopback: a real TVM RPC tracker and servers on 127.0.0.1.

A small study is tuned through the CLI on the rpc target (TVM builds here, uploads, times on
the server, reads outputs back); a server killed mid-measurement ends only its trial as
``run_error``; tracker and servers bind 127.0.0.1 by default.
"""

from __future__ import annotations

import json
import shutil
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


def rpc_target(tmp: Path, cluster: RpcCluster, name: str = "loop", direct: bool = False, **options: Any) -> None:
    where = {"server": str(cluster.direct)} if direct else {"tracker": str(cluster.tracker)}
    (tmp / "targets").mkdir(exist_ok=True)
    (tmp / "targets" / f"{name}.yaml").write_text(yaml.safe_dump({
        "target": name, "kind": "rpc", "frameworks": ["tvm", "onnxruntime"],
        "threads": {"choices": [1]}, "power": {"idle_w": 2.0, "per_core_w": 1.0},
        "options": {**where, "key": cluster.key, **options},
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
    with RpcCluster(key="loopback", servers=2, direct=True, log_dir=tmp_path_factory.mktemp("rpc-logs")) as running:
        yield running


def listening_hosts(pid: int) -> set[str]:
    pids = {pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))}
    return {c.laddr.ip for c in psutil.net_connections("tcp") if c.pid in pids and c.status == psutil.CONN_LISTEN}


def test_tracker_and_servers_bind_loopback_by_default(cluster: RpcCluster) -> None:
    assert len(cluster.processes) == 4  # tracker, two servers registered with it, a direct server
    for process in cluster.processes:
        assert listening_hosts(process.pid) == {"127.0.0.1"}, process.args
    assert cluster.registered() == (2, 2)


@pytest.mark.slow
def test_study_runs_through_the_tracker(cli, tmp_path: Path, cluster: RpcCluster) -> None:  # type: ignore[no-untyped-def]
    rpc_target(tmp_path, cluster)
    path = rpc_study(tmp_path, "rpc-ok", trials=2, repeats=2, min_time_s=0.05)
    result = cli("tune", path, "-q", "--no-export")
    assert result.code == 0, result
    report = json.loads(cli("report", path, "--json").out)
    trials = report["trials"]
    assert len(trials) == 2 and {t["status"] for t in trials} == {"ok"}, trials
    for trial in trials:
        metrics = trial["metrics"]
        assert metrics["accuracy_top1"] > 0.5                 # outputs were read back and scored
        assert metrics["samples"] >= 2 * 10                    # both sessions' samples, one per call
        assert 0 < metrics["latency_p50_ms"] < 50
        windows = (trial["info"].get("sessions") or {}).get("windows") or {}
        with np_load(trial["files"]["samples"]) as samples:
            assert len(samples.files) >= 2
            for name in samples.files:                         # min_runs and min_time_s, each session
                assert len(samples[name]) >= 10
                # runs timed in a slow spell of the host are set aside (evaluate/repeatability.py):
                # the file holds the kept ones, the trial says how many others were measured
                assert samples[name].sum() >= 0.05e9 or windows.get("runs_set_aside", 0) > 0
            kept_s = sum(float(samples[name].sum()) for name in samples.files) / 1e9
            assert kept_s + windows.get("seconds_set_aside", 0.0) >= 2 * 0.05


@pytest.mark.slow
def test_study_runs_on_a_server_without_tracker(cli, tmp_path: Path, cluster: RpcCluster) -> None:  # type: ignore[no-untyped-def]
    """Also with the device's target and cross compiler named (x86-64 both sides here)."""
    compiler = shutil.which("x86_64-linux-gnu-g++")
    if compiler is None:
        pytest.skip("no x86_64-linux-gnu-g++ to stand in for a cross compiler")
    rpc_target(tmp_path, cluster, direct=True, cross_compiler="x86_64-linux-gnu-g++",
               tvm_target={"kind": "llvm", "mtriple": "x86_64-linux-gnu"})
    path = rpc_study(tmp_path, "rpc-direct", trials=1)
    result = cli("tune", path, "-q", "--no-export")
    trials = json.loads(cli("report", path, "--json").out)["trials"]
    assert result.code == 0, trials
    assert [t["status"] for t in trials] == ["ok"] and trials[0]["metrics"]["accuracy_top1"] > 0.5
    assert json.loads(trials[0]["info"]["target"])["mtriple"] == "x86_64-linux-gnu"


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


@pytest.mark.parametrize(("options", "message"), [
    ({"tracker": "127.0.0.1:9190", "server": "127.0.0.1:9090", "key": "k"},
     "options.server: give either a tracker or a server, not both"),
    ({"tracker": "127.0.0.1:9190"}, "options.key: is required with a tracker"),
    ({"tracker": "localhost"}, "options.tracker: must be host:port with a port in [1, 65535]; got 'localhost'"),
    ({"server": "127.0.0.1:9090", "device": "tpu"}, "options.device: must be one of 'cpu', 'cuda'; got 'tpu'"),
    ({"server": "127.0.0.1:9090", "tvm_target": {"mcpu": "cortex-a72"}}, "options.tvm_target.kind: is required"),
])
def test_bad_options_name_the_field(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    from request_dse.errors import ConfigError
    from request_dse.targets import load_target, option_specs

    path = tmp_path / "dev.yaml"
    path.write_text(yaml.safe_dump({"target": "dev", "kind": "rpc", "frameworks": ["tvm"], "options": options}))
    with pytest.raises(ConfigError) as caught:
        load_target(path, option_specs(), expected_name="dev")
    assert str(caught.value).startswith(f"{path}: {message}"), str(caught.value)


def test_unreachable_server_is_unavailable(tmp_path: Path) -> None:
    from request_dse.targets import load_target, make_target, option_specs
    from request_dse.testing.rpc import free_port

    path = tmp_path / "dev.yaml"
    port = free_port()
    path.write_text(yaml.safe_dump({"target": "dev", "kind": "rpc", "frameworks": ["tvm"],
                                    "options": {"server": f"127.0.0.1:{port}"}}))
    reason = make_target(load_target(path, option_specs(), expected_name="dev")).unavailable()
    assert reason == f"the RPC server 127.0.0.1:{port} is not reachable (Connection refused)"


@pytest.mark.slow
def test_server_killed_mid_measurement_ends_only_that_trial(cli, tmp_path: Path, cluster: RpcCluster) -> None:  # type: ignore[no-untyped-def]
    """Runs last: it kills one of the module cluster's two servers."""
    assert cluster.registered()[0] == 2
    rpc_target(tmp_path, cluster)
    # Sessions long enough to be caught in the act (the run cap would end a 20 µs model's early).
    path = rpc_study(tmp_path, "rpc-kill", trials=2, min_time_s=2.0, max_time_s=3.0, max_runs=10**8)
    killed: list[int] = []

    def kill_first_busy_server() -> None:
        server = cluster.busy_server(timeout_s=300)
        if server is not None:
            time.sleep(0.5)
            killed.append(server.pid)
            cluster.kill(server)

    killer = threading.Thread(target=kill_first_busy_server, daemon=True)
    killer.start()
    result = cli("tune", path, "-q", "--no-export")
    killer.join(timeout=5)
    assert killed, "no server was ever seen serving"
    report = json.loads(cli("report", path, "--json").out)
    assert result.code == 0, result
    assert sorted(t["status"] for t in report["trials"]) == ["ok", "run_error"], report["trials"]
    failed = next(t for t in report["trials"] if t["status"] == "run_error")
    assert failed["error"].startswith("RemoteStepError: remote "), failed["error"]
    assert "failed on key 'loopback' at the RPC tracker" in failed["error"]
    assert "the server may have stopped or dropped the connection" in failed["error"]


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                                ("0.0.0.0", False), ("10.0.0.5", False)])
def test_rpc_command_warns_about_exposed_addresses(capsys: pytest.CaptureFixture[str], host: str,
                                                   loopback: bool) -> None:
    from request_dse.cli.rpc import _warn_exposed

    _warn_exposed(host, "server")
    err = capsys.readouterr().err
    assert (err == "") == loopback
    if not loopback:
        assert f"listens on {host}: anyone who can reach that port can run code on this machine" in err


def test_rpc_command_defaults_to_loopback(cli) -> None:  # type: ignore[no-untyped-def]
    for sub in ("tracker", "server"):
        result = cli("rpc", sub, "--help")
        assert result.code == 0 and "[default: 127.0.0.1]" in result.out
