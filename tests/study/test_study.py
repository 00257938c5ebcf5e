"""Well-formed study files: what they resolve to."""

from __future__ import annotations

from pathlib import Path

import pytest

from request_dse.study import REPO_ROOT, load_plan, load_study


def test_quickstart_resolves() -> None:
    plan = load_plan(REPO_ROOT / "studies" / "quickstart.yaml")
    names = plan.space.names
    model_dims = [n for n in names if n.startswith("model.")]
    assert len([n for n in model_dims if len(plan.space.dimension(n).values()) > 1]) >= 3
    flag_dims = [n for n in names if n.split(".")[0] in ("onnxruntime", "tvm")]
    assert {n.split(".")[0] for n in flag_dims} == {"onnxruntime", "tvm"}
    assert plan.space.count() > plan.study.trials
    assert plan.storage_url.startswith("journal:")


def test_defaults_are_filled(write_study) -> None:  # type: ignore[no-untyped-def]
    study = load_study(write_study("d", measure={}, sampler="tpe"))
    assert study.measure.min_runs == 64 and study.measure.repeats == 3
    assert study.sampler.name == "tpe" and study.sampler.seed == 0
    assert study.work_dir.name == "d" and study.work_dir.parent.name == ".request-dse"


def test_flags_not_named_keep_their_defaults(write_study) -> None:  # type: ignore[no-untyped-def]
    plan = load_plan(write_study("f", frameworks={"onnxruntime": {"execution_mode": ["sequential", "parallel"]}}))
    candidate = next(c for c in plan.space.enumerate() if c["onnxruntime.execution_mode"] == "parallel")
    flags = plan.flags(candidate)
    assert flags["graph_optimization_level"] == "all"      # catalog default
    assert flags["execution_mode"] == "parallel"           # from the candidate
    assert "onnxruntime.inter_op_num_threads" not in candidate  # not explored: no dimension


def test_fragments_include_and_the_study_overrides(write_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "search_spaces").mkdir()
    (tmp_path / "search_spaces" / "base.yaml").write_text(
        "include: [res]\ndimensions:\n  model.family: [mobilenet]\n  model.width: [0.25, 1.0]\n")
    (tmp_path / "search_spaces" / "res.yaml").write_text(
        "dimensions:\n  model.resolution: [4, 8, 16]\nconstraints: [\"model.resolution != 16\"]\n")
    plan = load_plan(write_study("frag", space={"include": ["base"], "dimensions": {"model.width": [0.5]}}))
    assert plan.space.dimension("model.width").values() == (0.5,)
    assert plan.space.dimension("model.resolution").values() == (4, 8, 16)
    assert {c["model.resolution"] for c in plan.space.enumerate()} == {4, 8}


def test_request_dse_path_is_searched(write_study, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    extra = tmp_path / "extra"
    (extra / "search_spaces").mkdir(parents=True)
    (extra / "search_spaces" / "tiny.yaml").write_text("dimensions:\n  model.resolution: [6]\n")
    monkeypatch.setenv("REQUEST_DSE_PATH", str(extra))
    plan = load_plan(write_study("p", space={"include": ["tiny"]}))
    assert plan.space.dimension("model.resolution").values() == (6,)


def test_host_filter_leaves_out_what_the_target_cannot_run(write_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "old.yaml").write_text(
        "target: old\nkind: local_cpu\nframeworks: [tvm]\noptions:\n  isa: [sse4_2, popcnt]\n")
    plan = load_plan(write_study("h", target="old", frameworks={"tvm": {"mcpu": "*"}}))
    assert plan.space.dimension("tvm.mcpu").values() == ("generic", "x86-64-v2", "native")
    assert any("haswell" in note and "avx2" in note for note in plan.notes)


def test_user_onnx_workload(write_study) -> None:  # type: ignore[no-untyped-def]
    data = Path(__file__).resolve().parents[1] / "data"
    plan = load_plan(write_study("u", workload={"name": "lin", "onnx": str(data / "linear.onnx"),
                                                "data": str(data / "linear.npz"), "precisions": ["fp32", "int8"]},
                                 frameworks=["onnxruntime", "tvm"], space={"dimensions": {}}))
    assert plan.space.dimension("model.precision").values() == ("fp32", "int8")
    assert plan.space.count() == 4
