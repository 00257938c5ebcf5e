"""The outbox (durable, superseding, crash-tolerant) and the pure projection of trials."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from request_dse.errors import UserError
from request_dse.results import TrialRecord
from request_dse.tracking import _projection as P, project_root, resolve
from request_dse.tracking.outbox import Outbox


def test_later_payload_supersedes_and_done_marks_only_what_was_sent(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.jsonl")
    box.put({"key": "trial:1", "v": "running"}, {"key": "trial:2", "v": 2})
    (seq1, first), (seq2, _) = box.pending()
    assert first == {"key": "trial:1", "v": "running"}
    box.put({"key": "trial:1", "v": "ok"})  # the trial finished before its start was sent
    box.done("trial:1", seq1)  # the sender acknowledges the older payload only
    assert [p["v"] for _, p in box.pending()] == [2, "ok"]
    for seq, payload in box.pending():
        box.done(payload["key"], seq)
    assert box.pending() == [] and len(box) == 0
    box.compact()
    assert len(box.path.read_text().splitlines()) == 1 and box.pending() == []  # its generation line


def test_compact_keeps_pending_payloads(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.jsonl")
    box.put({"key": "a"})
    box.compact()
    assert [p["key"] for _, p in box.pending()] == ["a"]


def test_a_line_cut_short_by_a_crash_loses_nothing_after_it(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.jsonl")
    box.put({"key": "a"})
    with open(box.path, "a") as f:
        f.write('{"put": {"key": "b", "trunc')  # killed mid-write
    box.put({"key": "c"})
    assert [p["key"] for _, p in box.pending()] == ["a", "c"]


def test_a_reader_reads_only_what_was_appended_since_and_notices_compaction(tmp_path: Path) -> None:
    box, other = Outbox(tmp_path / "outbox.jsonl"), Outbox(tmp_path / "outbox.jsonl")  # two processes' views
    box.put({"key": "a"}, {"key": "b"})
    assert [p["key"] for _, p in box.pending()] == ["a", "b"]
    read = box._offset
    other.put({"key": "c"})
    other.done("a", 0)
    assert [(seq, p["key"]) for seq, p in box.pending()] == [(1, "b"), (2, "c")] and box._offset > read
    for seq, payload in other.pending():
        other.done(payload["key"], seq)
    other.compact()  # the other view replaces the file: the first view's offset means nothing now
    other.put({"key": "d"}, {"key": "e"}, {"key": "f"}, {"key": "g"})  # longer than what box read before
    assert [(seq, p["key"]) for seq, p in box.pending()] == [(1, "d"), (2, "e"), (3, "f"), (4, "g")]
    assert box.pending() == other.pending() == Outbox(box.path).pending()
    box.put({"key": "h"})  # the first view kept the replaced file open: it appends to the new one
    assert [p["key"] for _, p in other.pending()] == ["d", "e", "f", "g", "h"]


def test_an_append_opens_no_file_once_the_outbox_is_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The search's thread pays a few system calls per append: the lock and the file stay open
    between appends (and are opened again after ``close``)."""
    import builtins
    import os

    box = Outbox(tmp_path / "tracking" / "outbox.jsonl")
    box.put({"key": "a"})
    opened: list[object] = []
    real_open, real_os_open = builtins.open, os.open
    monkeypatch.setattr(builtins, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    monkeypatch.setattr(os, "open", lambda *a, **k: opened.append(a[0]) or real_os_open(*a, **k))
    for i in range(5):
        box.put({"key": f"b{i}"})
    assert opened == []
    box.close()
    box.put({"key": "c"})
    assert sorted(map(str, opened)) == [str(box.path), str(box.path.with_suffix(".lock"))]
    monkeypatch.undo()
    assert [p["key"] for _, p in Outbox(box.path).pending()] == ["a", "b0", "b1", "b2", "b3", "b4", "c"]


def _write_many(box: Outbox, prefix: str) -> None:
    for i in range(150):
        box.put({"key": f"{prefix}{i}", "pad": "x" * 300})


def test_forked_and_spawned_writers_beside_the_open_outbox_lose_nothing(tmp_path: Path) -> None:
    """The outbox itself goes to a forked child (which opens its own lock: one shared with its parent
    would not exclude it) and, pickled, to a spawned one; every line of the three processes arrives
    whole."""
    import multiprocessing

    box = Outbox(tmp_path / "outbox.jsonl")
    box.put({"key": "parent-first"})  # the parent's lock and file are open before the fork
    workers = [multiprocessing.get_context(kind).Process(target=_write_many, args=(box, kind[0]))
               for kind in ("fork", "spawn")]
    for w in workers:
        w.start()
    for i in range(150):
        box.put({"key": f"p{i}", "pad": "y" * 300})
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0]
    keys = [p["key"] for _, p in Outbox(box.path).pending()]
    assert len(keys) == 451 and len(set(keys)) == 451
    assert all(line.endswith("}") for line in box.path.read_text().splitlines())


def test_a_copy_sent_to_another_process_reads_afresh(tmp_path: Path) -> None:
    import pickle

    box = Outbox(tmp_path / "outbox.jsonl")
    box.put({"key": "a"})
    box.pending()
    copy = pickle.loads(pickle.dumps(box))
    assert copy._offset == 0 and copy.pending() == box.pending()


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.jsonl")

    def write(prefix: str) -> None:
        for i in range(100):
            box.put({"key": f"{prefix}{i}"})

    threads = [threading.Thread(target=write, args=(p,)) for p in "xy"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(box) == 200


def record(number: int, status: str, **metrics: float) -> TrialRecord:
    return TrialRecord(number, "COMPLETE", status, {"framework": "tvm", "model.width": 0.5, "tvm.opt_level": 3,
                                                   "batch_size": 1}, f"h{number}", metrics,
                       error="boom" if status != "ok" else "", timings={"build_start": 1000.0, "measure_end": 1002.5})


def test_trial_payload_names_and_statuses() -> None:
    ok = P.trial_payload(record(3, "ok", latency_p90_ms=1.5), "sid", "st", "me", rank=1)
    assert ok["params"] == {"batch_size": "1", "framework": "tvm", "model.width": "0.5", "tvm.opt_level": "3"}
    assert ok["metrics"]["latency_p90_ms"] == 1.5
    assert ok["status"] == "FINISHED" and ok["start_ms"] == 1_000_000 and ok["end_ms"] == 1_002_500
    assert ok["tags"][P.PARETO] == "true" and ok["tags"][P.PARETO_RANK] == "1" and ok["tags"][P.HASH] == "h3"
    failed = P.trial_payload(record(4, "build_error"), "sid", "st", "me")
    assert failed["status"] == "FAILED" and failed["tags"][P.ERROR] == "boom" and failed["tags"][P.PARETO] == "false"
    assert P.trial_payload(record(5, "interrupted"), "sid", "st", "me")["status"] == "KILLED"
    running = P.trial_payload(record(6, "ok"), "sid", "st", "me", running=True)
    assert running["status"] == "RUNNING" and running["end_ms"] is None and not running["metrics"]
    assert running["key"] == ok["key"].replace("3", "6")


def test_pareto_ranks() -> None:
    recs = [record(0, "ok", a=1.0, b=1.0), record(1, "ok", a=2.0, b=2.0), record(2, "ok", a=0.5, b=0.5),
            record(3, "run_error")]
    assert P.pareto_ranks(recs, ["a", "b"], ["maximize", "maximize"]) == {1: 1, 0: 2, 2: 3}


def test_tracking_uri_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "proj"
    (project / "studies" / "deep").mkdir(parents=True)
    (project / ".git").mkdir()
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    embedded = resolve(None, None, "digits", project / "studies" / "deep")
    assert embedded.uri == f"sqlite:///{project / 'mlflow' / 'mlflow.db'}"
    assert embedded.artifact_root == project / "mlflow" / "artifacts"
    assert embedded.experiment == "request-dse/digits"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    assert resolve(None, "mine", "digits", project).uri == "http://127.0.0.1:9"
    assert resolve("http://127.0.0.1:8", None, "digits", project).uri == "http://127.0.0.1:8"  # the study wins
    with pytest.raises(UserError, match="file store"):
        resolve("file:///tmp/mlruns", None, "digits", project)
    monkeypatch.chdir(tmp_path)
    assert project_root(tmp_path / "elsewhere") == tmp_path.resolve()


def test_the_repository_mlflow_folder_is_not_a_package() -> None:
    from request_dse.study import REPO_ROOT

    assert (REPO_ROOT / "mlflow" / "README.md").is_file() and (REPO_ROOT / "mlflow" / "server.sh").is_file()
    assert not (REPO_ROOT / "mlflow" / "__init__.py").exists()


def test_drain_sends_the_parents_progress_points_in_one_request_and_acknowledges_all(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against a real SQLite MLflow store: every stepped point arrives, in one log_batch call."""
    from mlflow import MlflowClient
    from request_dse.tracking import MlflowSink, TrackingTarget
    from request_dse.tracking.sync import drain

    target = TrackingTarget(uri=f"sqlite:///{tmp_path / 'mlflow.db'}", experiment="drain",
                            artifact_root=tmp_path / "artifacts")
    outbox = Outbox(tmp_path / "outbox.jsonl")
    outbox.put({"key": "parent:start", "role": "parent", "name": "study", "start_ms": 1000, "tags": {P.STUDY_ID: "s1",
                P.ROLE: "study"}, "status": "RUNNING"})
    outbox.put(*[P.parent_progress(step, 0.1 * step, step, step, 1000 + step) for step in range(1, 8)])
    sink = MlflowSink(target, "s1")
    calls = []
    log_batch = MlflowClient.log_batch

    def counted(self, run_id, metrics=(), params=(), tags=(), *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(metrics))
        return log_batch(self, run_id, metrics, params, tags, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "log_batch", counted)
    result = drain(sink, outbox)
    assert result.sent == 8 and result.pending == 0 and not result.error
    assert calls.count(21) == 1                       # 7 steps x 3 metrics, one request
    history = sink.client.get_metric_history(sink.parent_id, "hypervolume")
    assert [(m.step, round(m.value, 6)) for m in history] == [(s, round(0.1 * s, 6)) for s in range(1, 8)]
    assert len(outbox) == 0


def _store(tmp_path: Path):  # type: ignore[no-untyped-def]
    from request_dse.tracking import MlflowSink, TrackingTarget

    target = TrackingTarget(uri=f"sqlite:///{tmp_path / 'mlflow.db'}", experiment="drain",
                            artifact_root=tmp_path / "artifacts")
    outbox = Outbox(tmp_path / "outbox.jsonl")
    outbox.put({"key": "parent:start", "role": "parent", "name": "study", "start_ms": 1000, "tags": {P.STUDY_ID: "s1",
                P.ROLE: "study"}, "status": "RUNNING"})
    return MlflowSink(target, "s1"), outbox


def test_a_waiting_trial_is_written_once_with_the_ranks_of_a_newer_pareto_payload(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At a fast study's end most trials wait in the outbox, behind the final ``pareto`` payload:
    each run is made with its final rank instead of being tagged a second time."""
    from mlflow import MlflowClient
    from request_dse.tracking.sync import drain

    sink, outbox = _store(tmp_path)
    records = [record(n, "ok", accuracy_top1=0.5 + 0.1 * n, latency_p90_ms=3.0 - n) for n in range(3)]  # ranks 3, 2, 1
    outbox.put(P.trial_payload(records[0], "s1", "st", "me", rank=1))
    drain(sink, outbox)  # trial 0 was sent while the study ran, on the front then
    outbox.put(*(P.trial_payload(r, "s1", "st", "me", rank=1 if r.number == 2 else None) for r in records[1:]))
    ranks = P.pareto_ranks(records, ["accuracy_top1", "latency_p90_ms"], ["maximize", "minimize"])
    outbox.put(P.pareto_update(records, ranks))
    tagged: list[str] = []
    log_batch = MlflowClient.log_batch

    def counted(self, run_id, metrics=(), params=(), tags=(), *args, **kwargs):  # type: ignore[no-untyped-def]
        tagged.extend(t.key for t in tags if t.key == P.PARETO_RANK)
        return log_batch(self, run_id, metrics, params, tags, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "log_batch", counted)
    assert not drain(sink, outbox).error and len(outbox) == 0
    assert len(tagged) == 1  # trial 0's rank changed after it was sent; trials 1 and 2 were made with theirs
    runs = {int(r.data.tags[P.TRIAL]): r.data.tags for r in sink.study_runs() if r.data.tags.get(P.ROLE) == "trial"}
    assert {n: (t[P.PARETO], t[P.PARETO_RANK]) for n, t in runs.items()} == {
        n: ("true" if ranks[n] == 1 else "false", str(ranks[n])) for n in range(3)}


def test_a_drain_given_no_time_sends_one_request_and_leaves_the_rest(tmp_path: Path) -> None:
    from request_dse.tracking.sync import drain

    sink, outbox = _store(tmp_path)
    outbox.put(*(P.trial_payload(record(n, "ok", accuracy_top1=0.5), "s1", "st", "me") for n in range(3)))
    result = drain(sink, outbox, within_s=0)
    assert (result.sent, result.pending) == (1, 3)
    assert drain(sink, outbox).sent == 3 and len(outbox) == 0
