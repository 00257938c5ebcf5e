"""Ray's exceptions become a trial status and one clear line (the cluster tests cause them for real)."""

from __future__ import annotations


def test_ray_failures_as_statuses() -> None:
    import ray.exceptions as rex

    from request_dse.execute.ray_runtime import describe_failure

    died = rex.NodeDiedError("Task failed because the node it was running on is dead or unavailable. "
                             "Node IP: 10.0.0.2, node ID: 130ef705f16829f4e30284abd52238eec55b5822f79df9c8079675ed.")
    assert describe_failure(died, "build") == (
        "crashed", "Ray node 10.0.0.2 (130ef705f168) was lost while it ran this trial's build")
    status, message = describe_failure(rex.WorkerCrashedError(), "measurement")
    assert status == "crashed" and message.startswith("the Ray worker running the measurement died")
    assert describe_failure(rex.TaskCancelledError(), "build")[0] == "interrupted"
