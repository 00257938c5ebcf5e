"""Failures that are a property of a (model, framework) pair or of a flag value are learned as
exclusions of the study; transient ones (timeouts, crashes) are not. Real failing builds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from request_dse.backends import get_backend
from request_dse.search import Search, records
from request_dse.search.exclusions import stored
from request_dse.testing.studies import run_study
from tests.conftest import FAST_MEASURE, REPO


def scaler_model(folder: Path) -> tuple[Path, Path]:
    """A user ONNX model ONNX Runtime runs and TVM's ONNX frontend cannot import (an ``ai.onnx.ml``
    Scaler): Scaler -> MatMul -> Add, input float [N, 4], output [N, 3]; and its data."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    offset, scale = rng.normal(size=4).astype(np.float32), rng.uniform(0.5, 2, size=4).astype(np.float32)
    w, b = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    nodes = [helper.make_node("Scaler", ["x"], ["s"], domain="ai.onnx.ml", offset=offset.tolist(), scale=scale.tolist()),
             helper.make_node("MatMul", ["s", "W"], ["m"]), helper.make_node("Add", ["m", "B"], ["y"])]
    graph = helper.make_graph(nodes, "scaled-linear", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
                              [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    inputs = rng.normal(size=(64, 4)).astype(np.float32)
    labels = np.argmax(((inputs - offset) * scale) @ w + b, axis=1)
    onnx.save(model, str(folder / "scaled.onnx"))
    np.savez(folder / "scaled.npz", inputs=inputs, labels=labels)
    return folder / "scaled.onnx", folder / "scaled.npz"


ORT_FLAGS = {"graph_optimization_level": ["disable_all", "basic", "extended", "all"], "enable_mem_pattern": [True, False]}


@pytest.mark.parametrize("sampler", ["default", "random"])
def test_a_framework_that_cannot_import_the_model_is_excluded(write_study, tmp_path: Path, cli, sampler: str) -> None:  # type: ignore[no-untyped-def]
    model, data = scaler_model(tmp_path)
    path = write_study(f"scaler-{sampler}", workload={"name": "scaled", "onnx": str(model), "data": str(data)},
                       frameworks={"onnxruntime": ORT_FLAGS, "tvm": {"fusion": [True, False], "opt_level": [2, 3]}},
                       space={"dimensions": {}}, sampler={"name": sampler, "seed": 0}, budget={"trials": 10})
    search = run_study(path)
    done = [r for r in records(search.study) if r.measured]
    by_framework = Counter(r.params["framework"] for r in done)
    assert by_framework["tvm"] <= 2, by_framework
    assert by_framework["onnxruntime"] == 8, by_framework  # every other candidate, within the budget
    assert all(r.status == "ok" for r in done if r.params["framework"] == "onnxruntime")
    [learned] = stored(search.study)
    assert learned.match == {"framework": "tvm", "model.precision": "fp32"}
    assert "Scaler" in learned.reason and learned.trial in {r.number for r in done if r.params["framework"] == "tvm"}
    skipped = [r for r in records(search.study) if r.skip == "excluded" and r.params.get("framework") == "tvm"]
    assert all(f"excluded after trial {learned.trial}" in r.error for r in skipped)
    for command in ("report", "space"):
        result = cli(command, path)
        assert f"excluded after trial {learned.trial}: tvm: TVM's ONNX frontend cannot import the model" in result.out, result
    # kept on resume: a larger budget tries no TVM candidate again
    path.write_text(path.read_text().replace("trials: 10", "trials: 14"))
    again = run_study(path)
    assert Counter(r.params["framework"] for r in records(again.study) if r.measured)["tvm"] == by_framework["tvm"]
    assert again.stop_reason == "search space exhausted"


def test_a_flag_value_the_library_rejects_is_excluded(write_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    catalog = yaml.safe_load((REPO / "backends" / "onnxruntime.yaml").read_text())
    catalog["flags"]["thread_affinities"] = {
        "description": "cores of the intra-op threads", "choices": ["1", "garbage"], "default": "1",
        "apply": {"config_entry": "session.intra_op_thread_affinities"}}
    (tmp_path / "backends").mkdir()
    (tmp_path / "backends" / "onnxruntime.yaml").write_text(yaml.safe_dump(catalog))
    path = write_study("affinity", frameworks={"onnxruntime": {"graph_optimization_level": ["basic", "extended", "all"],
                                                               "thread_affinities": ["1", "garbage"]}},
                       space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25],
                                             "model.resolution": [4], "model.precision": ["fp32"],
                                             "target.threads": [2]}},
                       sampler={"name": "random", "seed": 1}, budget={"trials": 5})
    search = run_study(path)
    done = [r for r in records(search.study) if r.measured]
    garbage = [r for r in done if r.params["onnxruntime.thread_affinities"] == "garbage"]
    assert 1 <= len(garbage) <= 2 and all(r.status == "build_error" for r in garbage)
    assert "FlagRejected" in garbage[0].error
    assert sorted(r.params["onnxruntime.graph_optimization_level"] for r in done if r.status == "ok") == \
        ["all", "basic", "extended"]
    [learned] = stored(search.study)
    assert learned.match == {"framework": "onnxruntime", "onnxruntime.thread_affinities": "garbage"}


FLAKY = {"faults": {"fault": ["hang", "segfault", "oom"], "stage": ["build", "measure"]}}


def test_timeouts_and_crashes_are_not_learned(write_study) -> None:  # type: ignore[no-untyped-def]
    space = {"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25], "model.resolution": [4],
                            "model.precision": ["fp32"]}}
    # the model is prepared first, so that the build-stage oom is the fault's and not a cold
    # start's: run alone on a slow host, preparing it in the faulty build outlasts the build's timeout
    run_study(write_study("flaky-warm", frameworks={"faults": {"fault": ["none"], "stage": ["build"]}},
                          budget={"trials": 1}, space=space, measure=FAST_MEASURE))
    path = write_study("flaky", frameworks=FLAKY, sampler={"name": "grid"}, budget={"trials": 6}, space=space,
                       measure={**FAST_MEASURE, "timeout_s": 5, "memory_limit_mb": 1500},
                       build={"timeout_s": 5, "memory_limit_mb": 1500})
    search: Search = run_study(path)
    statuses = Counter(r.status for r in records(search.study) if r.measured)
    assert statuses == {"build_timeout": 1, "run_timeout": 1, "crashed": 2, "out_of_memory": 2}, statuses
    assert stored(search.study) == [] and search.exclusions == []


@pytest.mark.parametrize(("backend", "status", "error", "flags", "scope"), [
    ("tvm", "build_error", "OpNotImplemented: The following operators are not supported for frontend ONNX: Scaler "
                           "(at pipeline.py:40 in import_onnx)", {}, "model"),
    ("tvm", "crashed", "measure worker died: SIGILL (illegal instruction: the code uses an instruction this CPU "
                       "does not have)", {"mattr": "+avx512f", "mcpu": "generic"}, "flag"),
    ("tvm", "crashed", "measure worker died: SIGSEGV (segmentation fault)", {"mattr": "+avx512f"}, None),
    ("tvm", "crashed", "measure worker died: SIGILL", {"mattr": "none", "mcpu": "generic"}, None),
    ("tvm", "build_timeout", "build timed out: killed after 600 s", {}, None),
    ("onnxruntime", "build_error", "FlagRejected: thread_affinities='garbage': Processor id must consist of only "
                                   "digits", {"thread_affinities": "garbage"}, "flag"),
    ("onnxruntime", "build_error", "ModelUnsupported: ONNX Runtime cannot load the model: NOT_IMPLEMENTED", {}, "model"),
    ("onnxruntime", "build_error", "RuntimeError: injected by the faults backend", {}, None),
    ("onnxruntime", "run_timeout", "measure timed out: killed after 60 s", {}, None),
    ("onnxruntime", "out_of_memory", "ModelUnsupported: not really", {}, None),
])
def test_each_backend_reads_its_own_errors(backend: str, status: str, error: str, flags: dict, scope: str | None) -> None:  # type: ignore[type-arg]
    known = get_backend(backend).known_failure(status, error, flags)
    assert (known.scope if known else None) == scope, known
    if scope == "flag":
        assert known is not None and known.flag in flags
