"""Validation jobs as Ray tasks on a real Ray cluster (127.0.0.1): a job runs on the node that owns
its target; that node killed mid-validation puts the job back in the queue, and it finishes on
the node that owns the target next."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from request_dse.testing.ray_cluster import RayCluster, new_cluster
from request_dse.testing.service import ServerProcess
from tests.service.conftest import add_token, run_cli, write_tournament

pytestmark = pytest.mark.slow  # a three-node Ray cluster and a validation run twice


def owner(cluster: RayCluster, resource: str, but: str = "") -> str | None:
    """The id of a live node advertising ``resource`` (other than ``but``)."""
    return next((n["NodeID"] for n in cluster.nodes_info()
                 if n["Alive"] and n["Resources"].get(resource) and n["NodeID"] != but), None)


def test_a_job_runs_on_the_targets_node_and_a_lost_node_queues_it_again(tmp_path: Path, slow_bundle: Path) -> None:
    cluster = new_cluster()
    server = None
    try:
        cluster.start_head(cpus=1, resources={})  # the server's node: it owns no target
        first = cluster.add_node("board-a", cpus=1, resources={"target:local-cpu": 1})
        cluster.wait_for_nodes(2)
        lost = owner(cluster, "target:local-cpu")
        tournament = write_tournament(tmp_path, validation={"executor": "ray", "ray_address": cluster.address,
                                                            "tolerance": 3.0})
        alice, org = add_token(tournament, "alice"), add_token(tournament, "org", "organizer")
        server = ServerProcess(tournament, env=cluster.env).start()
        assert run_cli("submit", slow_bundle, "--server", server.url, "--token", alice).code == 0
        job = server.wait_for("the job to run", lambda: server.get("/api/v1/jobs?state=running", org), 120)[0]
        server.wait_for("the job's sandbox on the target's node", lambda: _sandboxes(first.processes()), 60)
        first.kill()
        # queued again, and taken again at once: its task waits for a node that owns the target
        again = server.wait_for("the job to be queued again", lambda: [
            j for j in server.get("/api/v1/jobs", org) if j["id"] == job["id"] and j["attempts"] == 2], 90)[0]
        assert "the node running it was lost" in again["note"], again
        cluster.add_node("board-b", cpus=1, resources={"target:local-cpu": 1})
        second = server.wait_for("the new node owning the target",
                                 lambda: owner(cluster, "target:local-cpu", but=lost or ""), 180, 1.0)
        entry = server.wait_for("the validation to finish", lambda: [
            e for e in server.get("/api/v1/entries") if e["badge"] != "pending"], 240)[0]
        detail = server.get(f"/api/v1/entries/{entry['id']}")
    finally:
        if server is not None:
            server.stop()
        cluster.stop()
    assert entry["badge"] == "reproduced", detail
    (done,) = [j for j in detail["jobs"] if j["id"] == job["id"]]
    assert done["state"] == "done" and done["attempts"] == 2
    (validation,) = detail["validations"]
    assert f"(Ray node {second})" in validation["node"] and "bubblewrap" in validation["isolation"]


def _sandboxes(pids: list[int]) -> list[psutil.Process]:
    """The bubblewrap processes started by ``pids`` (a job's sandbox leads a session of its own)."""
    found = []
    for pid in pids:
        try:
            found += [c for c in psutil.Process(pid).children(recursive=True) if c.name() == "bwrap"]
        except psutil.Error:
            continue
    return found
