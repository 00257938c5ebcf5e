"""A user's ONNX file and .npz as a workload, end to end through both backends."""

from __future__ import annotations

from pathlib import Path

from request_dse.search import records
from request_dse.testing.studies import run_study

DATA = Path(__file__).resolve().parents[1] / "data"


def test_user_workload_runs_on_both_backends(write_study) -> None:  # type: ignore[no-untyped-def]
    path = write_study("user", workload={"name": "lin", "onnx": str(DATA / "linear.onnx"),
                                         "data": str(DATA / "linear.npz"), "precisions": ["fp32", "int8"]},
                       frameworks=["onnxruntime", "tvm"], space={"dimensions": {}},
                       sampler={"name": "grid"}, budget={"trials": 4})
    search = run_study(path)
    done = [r for r in records(search.study) if r.measured]
    assert {(r.params["framework"], r.params["model.precision"]) for r in done} == {
        ("onnxruntime", "fp32"), ("onnxruntime", "int8"), ("tvm", "fp32"), ("tvm", "int8")}
    for r in done:
        assert r.status == "ok", r.error
        if r.params["model.precision"] == "fp32":
            assert r.metrics["accuracy_top1"] == 1.0  # the labels are this model's own predictions


def test_a_fixed_batch_axis_limits_batch_size_and_says_why(cli, write_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from request_dse.study import load_plan
    from tests.workloads.user_models import small_cnn

    onnx_path, data_path = small_cnn(tmp_path, "fixed", batch=1)
    path = write_study("fixed", workload={"name": "fixed", "onnx": onnx_path.name, "data": data_path.name},
                       frameworks=["onnxruntime"], space={"dimensions": {"batch_size": [1, 8]}},
                       objectives=[{"minimize": "latency_p90_ms"}])
    assert {c["batch_size"] for c in load_plan(path).space.enumerate()} == {1}
    shown = cli("space", path)
    assert shown.code == 0 and "fixed.onnx fixes its batch axis to 1: batch_size == 1" in shown.out, shown


def test_the_scikit_learn_style_model_runs_on_onnxruntime_and_tvm_names_the_operator(write_study,  # type: ignore[no-untyped-def]
                                                                                      tmp_path: Path) -> None:
    from tests.workloads.user_models import scaler_mlp

    onnx_path, data_path = scaler_mlp(tmp_path)
    path = write_study("mlp", workload={"name": "mlp", "onnx": onnx_path.name, "data": data_path.name},
                       frameworks=["onnxruntime", "tvm"], space={"dimensions": {}}, sampler={"name": "grid"},
                       budget={"trials": 2})
    done = {r.params["framework"]: r for r in records(run_study(path).study) if r.measured}
    assert done["onnxruntime"].status == "ok" and done["onnxruntime"].metrics["accuracy_top1"] == 1.0
    assert done["tvm"].status == "build_error"
    assert done["tvm"].error.startswith("OpNotImplemented: The following operators are not supported for frontend "
                                        "ONNX: Scaler (at "), done["tvm"].error
