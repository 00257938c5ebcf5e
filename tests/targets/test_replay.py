"""The replay target and `request-dse export-table`: recorded tables answered honestly."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from request_dse.errors import UserError
from request_dse.results import Row, read_table, write_table
from request_dse.search import load_existing, records
from request_dse.space import Candidate
from request_dse.study import load_plan

REPO = Path(__file__).resolve().parents[2]
TABLE = REPO / "benchmarks" / "tables" / "digits-cpu.jsonl"
REPLAY_STUDY = REPO / "benchmarks" / "tables" / "digits-replay.yaml"


def replay_target(folder: Path, table: Path) -> None:
    (folder / "targets").mkdir(exist_ok=True)
    (folder / "targets" / "replay.yaml").write_text(yaml.safe_dump({
        "target": "replay", "kind": "replay", "threads": {"choices": [1, 2], "default": 1},
        "frameworks": ["onnxruntime", "tvm"], "options": {"table": str(table)}}))


def trials(plan) -> list:  # type: ignore[no-untyped-def]
    return [r for r in records(load_existing(plan.storage_url, plan.name)) if r.measured]


def test_export_then_replay_gives_the_recorded_results(write_study, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    recorded = write_study("rec", sampler={"name": "grid", "seed": 0}, budget={"trials": 3})
    assert cli("tune", recorded, "-q", "--no-export").code == 0
    table = tmp_path / "rec.jsonl"
    out = cli("export-table", recorded, "-o", table)
    assert out.code == 0 and "3 candidates" in out.out
    lines = [json.loads(line) for line in table.read_text().splitlines()]
    assert len(lines) == 3
    for line in lines:
        assert line["status"] == "ok" and line["hash"] == Candidate.of(line["knobs"]).hash
        assert {"accuracy_top1", "latency_p90_ms"} <= set(line["metrics"])
        assert line["samples"]["n"] == line["metrics"]["samples"] and line["samples"]["min_ms"] > 0
        assert line["source"]["study"] == "rec"

    replay_target(tmp_path, table)
    study = write_study("rep", target="replay", executor="inline", sampler={"name": "grid", "seed": 0},
                        budget={"trials": 8})
    assert cli("tune", study, "-q").code == 0
    plan = load_plan(study)
    by_hash = {line["hash"]: line for line in lines}
    done = trials(plan)
    assert len(done) == 8  # the whole space: 3 recorded, 5 missing
    for rec in done:
        if rec.hash in by_hash:
            assert rec.status == "ok"
            assert rec.metrics["latency_p90_ms"] == by_hash[rec.hash]["metrics"]["latency_p90_ms"]
        else:
            assert rec.status == "infeasible" and "not in the replay table rec.jsonl" in rec.error
    assert not (plan.work_dir / "trials").exists()  # nothing was built


def test_recorded_failures_replay_as_failures_and_replay_is_deterministic(write_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from request_dse.execute import InlineExecutor
    from request_dse.search import Search

    table = tmp_path / "t.jsonl"
    replay_target(tmp_path, table)
    path = write_study("fail", target="replay", sampler={"name": "grid", "seed": 3}, budget={"trials": 8})
    write_table([], table)  # the target needs its table to exist before the plan loads
    plan = load_plan(path)
    rows = []
    for i, cand in enumerate(plan.space.enumerate()):
        if i % 2:
            rows.append(Row(cand.params, "build_error", {}, "llvm said no"))
        else:
            rows.append(Row(cand.params, "ok", {"accuracy_top1": 0.5 + i / 100, "latency_p90_ms": 1.0 + i}))
    write_table(rows, table)
    outcomes = []
    for run in range(2):
        plan = load_plan(path)
        plan = dataclasses.replace(plan, study=dataclasses.replace(plan.study, name=f"fail-{run}", storage="memory"))
        search = Search(plan, InlineExecutor(), cache=None)
        search.run()
        done = [r for r in records(search.study) if r.measured]
        outcomes.append([(r.hash, r.status, r.error, dict(r.metrics)) for r in done])
    assert outcomes[0] == outcomes[1]
    statuses = {status for _, status, _, _ in outcomes[0]}
    assert statuses == {"ok", "build_error"}
    assert all(err == "llvm said no" for _, status, err, _ in outcomes[0] if status == "build_error")


def test_missing_table_is_a_one_line_config_error(write_study, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    replay_target(tmp_path, tmp_path / "nowhere.jsonl")
    out = cli("tune", write_study("m", target="replay"), "-q")
    assert out.code == 2
    assert "target 'replay' is unavailable" in out.err and "nowhere.jsonl does not exist" in out.err
    assert "Traceback" not in out.err


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"knobs": {"a": 1}, "status": "ok"}\n{"knobs": 3, "status": "ok"}\n')
    with pytest.raises(UserError, match=r"bad.jsonl:2: field 'knobs' must be an object"):
        read_table(path)
    path.write_text("not json\n")
    with pytest.raises(UserError, match=r"bad.jsonl:1: not valid JSON"):
        read_table(path)


def test_the_committed_ground_truth_table_covers_its_space() -> None:
    plan = load_plan(REPLAY_STUDY)
    table = read_table(TABLE)
    candidates = list(plan.space.enumerate())
    assert len(candidates) >= 500
    found = [table.get(c) for c in candidates]
    assert sum(r is not None for r in found) == len(candidates)
    ok = [r for r in found if r is not None and r.status == "ok"]
    assert len(ok) >= 0.75 * len(candidates)
    for r in found:  # the only failures: ONNX Runtime's `all` level on QDQ int8 models
        assert r is not None
        if r.status != "ok":
            assert r.status == "wrong_answer" and r.knobs["model.precision"] == "int8"
            assert r.knobs["onnxruntime.graph_optimization_level"] == "all"
    # raw-sample statistics agree with the metrics; nearly all reached the protocol's 32 runs
    assert all(r.samples.get("n", r.metrics["samples"]) == r.metrics["samples"] for r in ok)
    assert sum(r.metrics["samples"] >= 32 for r in ok) >= 0.95 * len(ok)
