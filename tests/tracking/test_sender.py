"""The sending process: MLflow is written from a child of its own, which finishes what the study
left in the outbox and never outlives the study for long."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from request_dse.results import TrialRecord
from request_dse.tracking import TrackingTarget
from request_dse.tracking._projection import trial_payload
from request_dse.tracking.outbox import Outbox
from request_dse.tracking.sender import SenderConfig, SenderProcess

from ._helpers import fault_study, study_runs
from .conftest import free_port

pytestmark = pytest.mark.slow


def senders(pid: int) -> list[int]:
    """The children of ``pid`` started by multiprocessing's spawn (the measurement workers come
    from a forkserver)."""
    out = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        if stat and int(stat.rsplit(")", 1)[1].split()[1]) == pid and "spawn_main" in cmdline(int(entry.name)):
            out.append(int(entry.name))
    return out


def config(tmp_path: Path, uri: str, *, flush_timeout_s: float = 30.0, cpu_share: float = 0.25) -> SenderConfig:
    target = TrackingTarget(uri=uri, experiment="request-dse-tests", artifact_root=None)
    return SenderConfig(target, Outbox(tmp_path / "tracking" / "outbox.jsonl"), "sender-test", "sender", "owner",
                        ("accuracy_top1",), ("maximize",), (), flush_timeout_s, cpu_share)


def parent_payload() -> dict[str, Any]:
    """The study's parent run, as the study's first outbox payload."""
    return {"key": "parent:start", "role": "parent", "name": "study-sender", "status": "RUNNING",
            "start_ms": int(time.time() * 1000), "params": {}, "metrics": {}, "artifacts": [],
            "tags": {"request_dse.study_id": "sender-test", "request_dse.study": "sender",
                     "request_dse.role": "study"}}


def settled(outbox: Outbox, within_s: float) -> int:
    """How many payloads wait once three readings a second apart agree: longer than a send lasts
    (``SEND_FOR_S``), so no send is under way."""
    deadline, seen = time.monotonic() + within_s, []
    while time.monotonic() < deadline:
        seen = [*seen[-2:], len(outbox)]
        if len(seen) == 3 and len(set(seen)) == 1:
            return seen[0]
        time.sleep(1.0)
    raise AssertionError(f"the outbox never settled in {within_s} s")


@pytest.mark.parametrize("cpu_share", [0.02, 1.0])
def test_while_the_study_runs_the_sender_keeps_to_its_share_of_a_core(tmp_path: Path, cpu_share: float) -> None:
    """A backlog (a study of millisecond trials) is sent in sends of a second at most, each followed by a rest
    of the CPU it used times (1 - share) / share; at the study's end the rest goes at full speed."""
    cfg = config(tmp_path, f"sqlite:///{tmp_path / 'mlflow.db'}", cpu_share=cpu_share)
    parent = parent_payload()
    records = [TrialRecord(n, "COMPLETE", "ok", {"model.width": 0.5}, f"h{n}", metrics={"accuracy_top1": 0.9})
               for n in range(150)]
    cfg.outbox.put(parent, *(trial_payload(r, "sender-test", "sender", "owner") for r in records))
    sender = SenderProcess(cfg)
    try:
        deadline = time.monotonic() + 120
        while len(cfg.outbox) == 151:
            assert time.monotonic() < deadline, "nothing was sent"
            time.sleep(0.2)
        if cpu_share < 1:  # a second of sending costs it a rest of up to 49 s (connecting is not counted)
            waiting = settled(cfg.outbox, 60)
            assert 0 < waiting < 151
            time.sleep(3)
            assert len(cfg.outbox) == waiting
        else:  # half a second between sends: the backlog goes while the study runs
            deadline = time.monotonic() + 25
            while len(cfg.outbox):
                assert time.monotonic() < deadline, f"{len(cfg.outbox)} payloads left after 25 s"
                time.sleep(0.2)
    finally:
        sender.finish()
    assert len(cfg.outbox) == 0
    from mlflow import MlflowClient

    parents, children = study_runs(MlflowClient(cfg.target.uri), "sender")
    assert len(parents) == 1 and len(children) == 150 and {r.info.status for r in children} == {"FINISHED"}


def test_connecting_does_not_count_against_the_share(tmp_path: Path) -> None:
    """Connecting costs the child seconds of CPU once (MLflow's client, the store's schema); counted at a
    share of 0.05 it would rest for minutes after the first send. Only sending counts: a trial appended
    after the first send is sent within seconds."""
    cfg = config(tmp_path, f"sqlite:///{tmp_path / 'mlflow.db'}", cpu_share=0.05)
    parent = parent_payload()
    first = TrialRecord(0, "COMPLETE", "ok", {"model.width": 0.5}, "h0", metrics={"accuracy_top1": 0.9})
    cfg.outbox.put(parent, trial_payload(first, "sender-test", "sender", "owner"))
    sender = SenderProcess(cfg)
    try:
        deadline = time.monotonic() + 120
        while len(cfg.outbox):
            assert time.monotonic() < deadline, "nothing was sent"
            time.sleep(0.1)
        cpu = child_cpu_s(senders(os.getpid()))
        assert cpu > 1.0, f"connecting took {cpu:.2f} s of CPU: too little for the test to tell"
        second = TrialRecord(1, "COMPLETE", "ok", {"model.width": 0.25}, "h1", metrics={"accuracy_top1": 0.8})
        cfg.outbox.put(trial_payload(second, "sender-test", "sender", "owner"))
        sender.wake()
        deadline = time.monotonic() + 5 * cpu  # counted, connecting would buy a rest of 19 times that
        while len(cfg.outbox):
            assert time.monotonic() < deadline, f"the second trial waited over {5 * cpu:.1f} s"
            time.sleep(0.1)
    finally:
        sender.finish()


def child_cpu_s(pids: list[int]) -> float:
    """User and system CPU seconds of these processes, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def test_an_unreachable_server_is_reported_back_and_the_child_ends(tmp_path: Path) -> None:
    record = TrialRecord(0, "COMPLETE", "ok", {"model.width": 0.5}, "abc", metrics={"accuracy_top1": 0.9})
    cfg = config(tmp_path, f"http://127.0.0.1:{free_port()}")
    cfg.outbox.put(trial_payload(record, "sender-test", "sender", "owner"))
    sender = SenderProcess(cfg)
    assert sender.config.outbox.pending()
    started = time.monotonic()
    sender.finish()
    assert time.monotonic() - started < cfg.flush_timeout_s
    assert "Connection" in sender.offline_reason() or "Max retries" in sender.offline_reason(), sender.offline_reason()
    assert len(cfg.outbox) == 1  # still waiting, for the next run or `request-dse sync`


def test_a_killed_study_leaves_its_runs_sent_and_no_sender_behind(server, write_study) -> None:  # type: ignore[no-untyped-def]
    """kill -9 of the study's process alone: its sender notices, sends what the outbox holds (the
    parent run, the running trial) and exits."""
    doc = fault_study("orphan", server.url, trials=2)
    doc["frameworks"] = {"faults": {"fault": ["none"], "stage": ["measure"]}}
    doc["measure"] = {**doc["measure"], "min_time_s": 300.0, "max_time_s": 600.0, "max_runs": 10**9, "timeout_s": 900}
    path = write_study("orphan", **doc)
    exe = Path(sys.executable).with_name("request-dse")
    proc = subprocess.Popen([str(exe), "tune", str(path), "-q"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    outbox = Outbox(path.parent / ".request-dse" / "orphan" / "tracking" / "outbox.jsonl")
    try:
        deadline = time.monotonic() + 300
        while not any(p["key"].startswith("trial:") for _, p in outbox.pending()) or not senders(proc.pid):
            assert proc.poll() is None, "tune ended before it was killed"
            assert time.monotonic() < deadline, "no trial started"
            time.sleep(0.2)
        alive = set(senders(proc.pid))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 60
        while alive and time.monotonic() < deadline:
            alive = {pid for pid in alive if "spawn_main" in cmdline(pid)}
            time.sleep(0.2)
        assert not alive, "the sender outlived the study by a minute"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the measurement workers
        except ProcessLookupError:
            pass
    parents, children_runs = study_runs(server.client(), "orphan")
    assert len(parents) == 1 and parents[0].info.status == "RUNNING"
    statuses = [r.info.status for r in children_runs]
    assert statuses and set(statuses) == {"RUNNING"}, statuses  # closed as KILLED by the next run or sync
    assert not outbox.pending()


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""
