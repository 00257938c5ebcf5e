"""The Ray executor on a real two-node Ray cluster (127.0.0.1) with a real PostgreSQL server.

One cluster serves the whole module: a head node owning target ``local-cpu`` and a worker
node owning target ``cpu-b``, each with one CPU for builds, token authentication on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from request_dse.execute import RayExecutor
from request_dse.search import Search, load_existing, records
from request_dse.study import load_plan
from request_dse.testing.postgres import PostgresServer, pg_bin, start_postgres
from request_dse.testing.ray_cluster import RayCluster, new_cluster
from tests.conftest import study_doc

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ONE_MODEL = {"model.family": ["mobilenet"], "model.width": [0.25], "model.resolution": [4], "model.precision": ["fp32"]}


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    c = new_cluster()
    saved = dict(os.environ)
    try:
        c.start_head(cpus=1, resources={"target:local-cpu": 1})
        c.wait_for_nodes(1)
        c.add_node("b", cpus=1, resources={"target:cpu-b": 1})
        c.wait_for_nodes(2)
        os.environ.update(c.env)  # this process drives the cluster too
        yield c
    finally:
        c.stop()
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    if pg_bin() is None:
        pytest.fail("PostgreSQL is not installed: run tests/setup-system.sh")
    server = start_postgres()
    yield server
    server.stop()


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def cpu_b_target(folder: Path) -> None:
    """A second local_cpu target next to the studies, owned by the worker node."""
    doc = yaml.safe_load((REPO / "targets" / "local-cpu.yaml").read_text())
    doc["target"] = "cpu-b"
    (folder / "targets").mkdir(exist_ok=True)
    (folder / "targets" / "cpu-b.yaml").write_text(yaml.safe_dump(doc))


def ray_study(name: str, cluster: RayCluster, **overrides: Any) -> dict[str, Any]:
    options = {"address": cluster.address, **overrides.pop("options", {})}
    return study_doc(name, executor={"name": "ray", "options": options}, sampler={"name": "grid", "seed": 0},
                     **overrides)


def run_search(path: Path) -> Search:
    plan = load_plan(path)
    executor = RayExecutor(plan)
    search = Search(plan, executor)
    try:
        search.run()
    finally:
        executor.shutdown()
    return search


def owner_of(cluster: RayCluster, resource: str) -> str:
    return next(n["NodeID"] for n in cluster.nodes_info() if n["Alive"] and n["Resources"].get(resource))


def test_two_drivers_measure_each_target_on_its_own_node_into_postgres(cluster: RayCluster, postgres: PostgresServer,
                                                                        tmp_path: Path) -> None:
    cpu_b_target(tmp_path)
    studies = {}
    for name, target in (("on-head", "local-cpu"), ("on-b", "cpu-b")):
        studies[name] = write(tmp_path / f"{name}.yaml", ray_study(name, cluster, target=target, storage=postgres.url,
                                                                   budget={"trials": 3}))
    env = {**os.environ, **cluster.env}
    env.pop("RAY_ADDRESS", None)
    drivers = {name: subprocess.Popen([sys.executable, "-m", "request_dse", "tune", str(path), "-q"], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for name, path in studies.items()}
    outputs = {name: p.communicate(timeout=600)[0] for name, p in drivers.items()}
    for name, p in drivers.items():
        assert p.returncode == 0, outputs[name]
    owners = {"on-head": owner_of(cluster, "target:local-cpu"), "on-b": owner_of(cluster, "target:cpu-b")}
    assert owners["on-head"] != owners["on-b"]
    for name in studies:
        study = load_existing(postgres.url, name)  # every trial is in PostgreSQL
        recs = records(study)
        assert len(recs) == 3 and all(r.state == "COMPLETE" and r.status == "ok" for r in recs), recs
        assert {r.info["ray_measure_node"] for r in recs} == {owners[name]}, (name, owners)


@pytest.mark.parametrize("isolate", [True, False])
def test_a_crash_in_a_build_ends_the_trial_crashed(cluster: RayCluster, tmp_path: Path, isolate: bool) -> None:
    doc = ray_study("crash", cluster, options={"isolate": isolate},
                    frameworks={"faults": {"fault": ["segfault", "none"], "stage": ["build"]}},
                    space={"dimensions": ONE_MODEL}, budget={"trials": 2})
    search = run_search(write(tmp_path / "crash.yaml", doc))
    by_fault = {r.params["faults.fault"]: r for r in records(search.study) if r.measured}
    assert by_fault["none"].status == "ok"
    assert by_fault["segfault"].status == "crashed"
    expected = "SIGSEGV" if isolate else "the Ray worker running the build died"
    assert expected in by_fault["segfault"].error


def _build_child_of(node: Any) -> bool:
    """Whether a step worker (a forkserver's child) of that node runs now."""
    for pid in node.processes():
        try:
            parent = psutil.Process(pid).parent()
            if parent is not None and "forkserver" in " ".join(parent.cmdline()):
                return True
        except psutil.Error:
            continue
    return False


def test_a_lost_node_fails_its_trials_and_the_study_goes_on(cluster: RayCluster, tmp_path: Path) -> None:
    node = cluster.add_node("c", cpus=1, resources={})
    cluster.wait_for_nodes(3)
    doc = ray_study("lost", cluster, frameworks={"faults": {"fault": ["slow"], "stage": ["build"]}},
                    space={"dimensions": {**ONE_MODEL, "model.width": [0.25, 0.5], "model.resolution": [4, 8]}},
                    budget={"trials": 4})
    plan = load_plan(write(tmp_path / "lost.yaml", doc))
    executor = RayExecutor(plan)
    search = Search(plan, executor)
    thread = threading.Thread(target=search.run)
    thread.start()
    try:
        deadline = time.monotonic() + 180
        while not _build_child_of(node):
            assert time.monotonic() < deadline, "no build ever ran on node c"
            assert thread.is_alive()
            time.sleep(0.1)
        activity = executor.activity()  # what the progress line shows
        assert activity.building >= 1 and activity.building + sum((activity.measuring or {}).values()) <= 4
        node.kill()
        killed = time.time()
        thread.join(timeout=300)
        assert not thread.is_alive()
    finally:
        executor.shutdown()
        thread.join(timeout=30)
    done = [r for r in records(search.study) if r.measured]
    assert len(done) == 4
    lost = [r for r in done if r.status == "crashed"]
    assert len(lost) == 1 and "lost" in lost[0].error, [(r.status, r.error) for r in done]
    assert all(r.status == "ok" for r in done if r not in lost)
    later = [r for r in done if r.status == "ok" and r.finished.timestamp() > killed]
    assert later, "no trial finished after the node was lost"


def test_ray_measures_the_same_candidates_as_local(cluster: RayCluster, tmp_path: Path) -> None:
    from request_dse.execute import make_executor

    results = {}
    for executor in ("local", "ray"):
        path = write(tmp_path / f"{executor}.yaml", ray_study(f"same-{executor}", cluster, budget={"trials": 4},
                                                               space={"dimensions": {**ONE_MODEL, "model.resolution": [4, 8]}}))
        plan = load_plan(path)
        runner = make_executor(plan, executor)
        search = Search(plan, runner)
        try:
            search.run()
        finally:
            runner.shutdown()
        results[executor] = {r.hash: r for r in records(search.study) if r.measured}
    assert set(results["local"]) == set(results["ray"]) and len(results["ray"]) == 4
    for key, local in results["local"].items():
        ray_rec = results["ray"][key]
        assert ray_rec.status == local.status == "ok"
        assert ray_rec.metrics["accuracy_top1"] == local.metrics["accuracy_top1"]
        assert ray_rec.info["ray_measure_node"]
    spans = sorted((r.timings["build_start"], r.timings["measure_end"]) for r in results["ray"].values())
    assert any(b0 < a1 for (_, a1), (b0, _) in zip(spans, spans[1:])), "never two trials in flight at once"


def test_deferred_survivors_are_resumed_on_the_node_that_judged_them(cluster: RayCluster, tmp_path: Path) -> None:
    """With ``early_stop.defer``, a survivor's other sessions run later, as a job of their own that
    reuses the built artifact: on Ray they run on the target's node like its judging session, and
    the result is the full protocol's (both sessions' runs)."""
    early = {"enabled": True, "first_runs": 16, "first_time_s": 0.0, "defer": 1}
    measure = {"warmup_runs": 2, "min_runs": 32, "min_time_s": 0.0, "repeats": 2, "timeout_s": 60, "early_stop": early}
    path = write(tmp_path / "defer.yaml", ray_study("defer-ray", cluster, budget={"trials": 4}, measure=measure,
                                                    constraints=["accuracy_top1 >= 0.5"],
                                                    space={"dimensions": {**ONE_MODEL, "model.resolution": [4, 8]}}))
    search = run_search(path)
    done = [r for r in records(search.study) if r.measured]
    assert len(done) == 4 and {r.status for r in done} <= {"ok", "dominated_early"}, [(r.status, r.error) for r in done]
    resumed = [r for r in done if r.status == "ok" and "measure_resume" in r.timings]
    assert resumed, "no survivor was deferred and resumed"
    for rec in resumed:
        assert rec.metrics["samples"] >= 2 * 32 and rec.metrics["measure_time_s"] > rec.timings["measure_first_s"]
        assert rec.info["ray_measure_node"] == owner_of(cluster, "target:local-cpu")
