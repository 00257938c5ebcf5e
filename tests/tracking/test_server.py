"""Tracking against a real `mlflow server` on 127.0.0.1, read back with MlflowClient.search_runs."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from request_dse.tracking.sync import outbox_for

from ._helpers import fault_study, one_run_each, projected_trials, run_study, study_runs

#: Each test runs studies against a real server, some stop and restart it: tens of seconds each.
pytestmark = pytest.mark.slow


def test_every_trial_has_one_run_with_its_params_metrics_tags_and_status(server, write_study) -> None:  # type: ignore[no-untyped-def]
    path = write_study("proj", **fault_study("proj", server.url))
    search, tracker = run_study(path)
    trials = projected_trials(search)
    assert len(trials) == 4 and {t.status for t in trials} == {"ok", "run_error"}
    client = server.client()
    parents, children = study_runs(client, "proj")
    runs = one_run_each(trials, children)
    front = {r.number for r in search.front()[0]}
    for t in trials:
        run = runs[t.number]
        assert run.data.params == {k: (repr(v) if isinstance(v, float) and v.is_integer() else str(v))
                                   for k, v in t.params.items()}
        assert "model.width" in run.data.params and "faults.fault" in run.data.params
        tags = run.data.tags
        assert tags["request_dse.status"] == t.status
        assert tags["request_dse.trial_hash"] == t.hash
        assert tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert tags["request_dse.pareto"] == ("true" if t.number in front else "false")
        if t.status == "ok":
            assert run.info.status == "FINISHED"
            assert tags["request_dse.pareto_rank"].isdigit()
            for name, value in t.metrics.items():
                assert math.isclose(run.data.metrics[name], value, rel_tol=1e-12), name
            assert {"latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "throughput_ips", "accuracy_top1",
                    "energy_mj_per_inference", "model_size_bytes", "build_time_s"} <= set(run.data.metrics)
            files = {a.path for a in client.list_artifacts(run.info.run_id, "measurements")}
            assert files, "raw latency samples are an artifact"
        else:
            assert run.info.status == "FAILED"
            assert "injected fault" in tags["request_dse.error"]
        assert {a.path for a in client.list_artifacts(run.info.run_id, "logs")}, "the logs are artifacts"
    # the parent run: settings, stepped hypervolume, Pareto plot and table, the study file
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.params["objectives"] == "maximize:accuracy_top1,minimize:latency_p90_ms"
    assert parent.data.params["sampler"] == "grid"
    history = client.get_metric_history(parent.info.run_id, "hypervolume")
    assert sorted(m.step for m in history) == [1, 2, 3, 4]
    assert math.isclose(history[-1].value, search.front()[2]) or math.isclose(
        max(history, key=lambda m: m.step).value, search.front()[2])
    pareto = {a.path for a in client.list_artifacts(parent.info.run_id, "pareto")}
    assert pareto == {"pareto/pareto.html", "pareto/pareto.png", "pareto/pareto.md"}
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} >= {path.name}
    html = client.download_artifacts(parent.info.run_id, "pareto/pareto.html", str(path.parent))
    text = Path(html).read_text()
    assert "<svg" in text and "http" not in text.replace("http://www.w3.org/2000/svg", "")  # no CDN
    assert not outbox_for(search.plan.work_dir).pending()
    assert tracker.callback_s < 5.0


def test_a_resumed_study_continues_its_parent_run(server, write_study) -> None:  # type: ignore[no-untyped-def]
    path = write_study("resume", **fault_study("resume", server.url, trials=2))
    run_study(path)
    path.write_text(path.read_text().replace("trials: 2", "trials: 4"))
    search, _ = run_study(path)
    parents, children = study_runs(server.client(), "resume")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    one_run_each(projected_trials(search), children)
    history = server.client().get_metric_history(parents[0].info.run_id, "hypervolume")
    assert sorted(m.step for m in history) == [1, 2, 3, 4]


class StopAndRestart:
    """Stops the server after the first trial and starts it again after the third."""

    def __init__(self, server) -> None:  # type: ignore[no-untyped-def]
        self.server = server
        self.seen = 0
        self.offline_trials = 0

    def on_start(self, search) -> None: ...  # type: ignore[no-untyped-def]

    def on_tick(self, search) -> None: ...  # type: ignore[no-untyped-def]

    def on_end(self, search) -> None: ...  # type: ignore[no-untyped-def]

    def on_trial(self, search, record) -> None:  # type: ignore[no-untyped-def]
        self.seen += 1
        if self.seen == 1:
            self.server.stop()
        elif self.seen in (2, 3):
            self.offline_trials += 1
        if self.seen == 3:
            self.server.start()


def test_server_stopped_mid_study_then_restarted_has_every_run_once(server, write_study) -> None:  # type: ignore[no-untyped-def]
    path = write_study("outage", **fault_study("outage", server.url, trials=4))
    chaos = StopAndRestart(server)
    search, tracker = run_study(path, chaos)
    assert chaos.offline_trials == 2 and chaos.seen == 4
    trials = projected_trials(search)
    assert len(trials) == 4
    parents, children = study_runs(server.client(), "outage")
    runs = one_run_each(trials, children)
    assert {n: r.info.status for n, r in runs.items()} == {
        t.number: "FINISHED" if t.status == "ok" else "FAILED" for t in trials}
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert not outbox_for(search.plan.work_dir).pending()


def test_offline_study_waits_in_the_outbox_until_sync(server, write_study, cli) -> None:  # type: ignore[no-untyped-def]
    path = write_study("offline", **fault_study("offline", server.url, trials=4))
    server.stop()
    tuned = cli("tune", path, "-q")
    assert tuned.code == 0, tuned
    assert "wait in" in tuned.err and "request-dse sync" in tuned.err
    outbox = outbox_for(path.parent / ".request-dse" / "offline")
    assert outbox.pending()
    failed = cli("sync", path)
    assert failed.code == 1 and "cannot reach" in failed.err
    server.start()
    synced = cli("sync", path)
    assert synced.code == 0, synced
    assert not outbox.pending()
    again = cli("sync", path)  # idempotent: nothing is logged twice
    assert again.code == 0, again
    from request_dse.search import load_existing
    from request_dse.study import load_plan

    plan = load_plan(path)
    trials = projected_trials(load_existing(plan.storage_url, plan.name))
    parents, children = study_runs(server.client(), "offline")
    one_run_each(trials, children)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"


def test_kill_9_then_rerun_closes_left_running_runs_as_killed(server, write_study) -> None:  # type: ignore[no-untyped-def]
    doc = fault_study("killed", server.url, trials=2)
    doc["frameworks"] = {"faults": {"fault": ["none"], "stage": ["measure"]}}
    fast = dict(doc["measure"])
    # trials that last: the run cap would end a 20 µs model's measurement in a fraction of a second
    doc["measure"] = {**fast, "min_time_s": 300.0, "max_time_s": 600.0, "max_runs": 10**9, "timeout_s": 900}
    path = write_study("killed", **doc)
    exe = Path(sys.executable).with_name("request-dse")
    proc = subprocess.Popen([str(exe), "tune", str(path), "-q"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    client = server.client()
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            exp = client.get_experiment_by_name("request-dse-tests")
            running = [] if exp is None else client.search_runs(
                [exp.experiment_id], "tags.`request_dse.study` = 'killed' and tags.`request_dse.role` = 'trial' "
                "and attributes.status = 'RUNNING'")
            if running:
                break
            assert proc.poll() is None, "tune ended before it was killed"
            time.sleep(0.5)
        else:
            pytest.fail("no RUNNING trial run appeared")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    doc["measure"] = fast  # the re-run measures quickly and completes the study
    path.write_text(yaml.safe_dump({"name": "killed", **yaml.safe_load(path.read_text()), **{"measure": fast}}))
    search, _ = run_study(path)
    trials = projected_trials(search)
    interrupted = [t for t in trials if t.status == "interrupted"]
    assert interrupted, [t.status for t in trials]
    parents, children = study_runs(client, "killed")
    runs = one_run_each(trials, children)
    for t in interrupted:
        assert runs[t.number].info.status == "KILLED"
        assert runs[t.number].data.tags["request_dse.status"] == "interrupted"
    assert sum(t.status == "ok" for t in trials) == 2
    assert not [r for r in children if r.info.status == "RUNNING"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"


def test_compare_prints_both_fronts_and_links_both_parent_runs(server, write_study, cli) -> None:  # type: ignore[no-untyped-def]
    paths = []
    for name, widths in (("cmp-a", [0.25]), ("cmp-b", [0.5])):
        doc = fault_study(name, server.url, trials=2)
        doc["frameworks"] = {"faults": {"fault": ["none"], "stage": ["measure"]}}
        doc["space"]["dimensions"] = {**doc["space"]["dimensions"], "model.width": widths, "model.resolution": [4, 8]}
        paths.append(write_study(name, **doc))
        run_study(paths[-1])
    result = cli("compare", *paths)
    assert result.code == 0, result
    out = result.out
    assert "shared reference point: accuracy_top1=" in out
    assert "cmp-a: " in out and "cmp-b: " in out and "hypervolume" in out
    assert "dominated by cmp-b" in out and "dominated by cmp-a" in out
    client = server.client()
    ids = [study_runs(client, name)[0][0].info.run_id for name in ("cmp-a", "cmp-b")]
    link = next(line for line in out.splitlines() if line.startswith("MLflow UI: "))
    assert link.startswith(f"MLflow UI: {server.url}/#/compare-runs?runs=")
    assert all(i in link for i in ids)
