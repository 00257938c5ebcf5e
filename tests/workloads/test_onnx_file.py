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
