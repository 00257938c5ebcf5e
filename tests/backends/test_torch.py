"""The torch backend beyond the shared conformance suite: compile, exclusions, bfloat16, and an
illegal-instruction crash reported with the code generation flags that caused it."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from request_dse.study import REPO_ROOT
from request_dse.testing.backend_conformance import PROTOCOL, build_inline, candidates, plan_for

DATA = Path(__file__).resolve().parents[1] / "data"


def test_user_onnx_workload_is_excluded_with_a_reason(write_study: Callable[..., Path], cli: Callable[..., Any]) -> None:
    path = write_study("user", workload={"name": "lin", "onnx": str(DATA / "linear.onnx"),
                                         "data": str(DATA / "linear.npz"), "precisions": ["fp32"]},
                       frameworks=["onnxruntime", "torch"], space={"dimensions": {}})
    result = cli("space", path)
    assert result.code == 0, result
    assert "torch cannot build workload lin" in result.out and "PyTorch definitions" in result.out
    from request_dse.study import load_plan

    assert {c["framework"] for c in load_plan(path).space.enumerate()} == {"onnxruntime"}


def test_int8_is_excluded_with_a_reason(write_study: Callable[..., Path], cli: Callable[..., Any]) -> None:
    space = {"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25], "model.resolution": [4],
                            "model.precision": ["fp32", "int8"]}}
    path = write_study("prec", frameworks=["onnxruntime", "torch"], space=space)
    result = cli("space", path)
    assert result.code == 0, result
    assert "int8 models are ONNX (QDQ) quantizations" in result.out
    from request_dse.study import load_plan

    pairs = {(c["framework"], c["model.precision"]) for c in load_plan(path).space.enumerate()}
    assert pairs == {("onnxruntime", "fp32"), ("onnxruntime", "int8"), ("torch", "fp32")}


@pytest.mark.slow
def test_compiled_artifact_loads_from_its_own_inductor_cache(tmp_path: Path) -> None:
    """The build compiles once into the artifact; a fresh process compiles from that cache."""
    plan = plan_for(tmp_path, "torch", "local-cpu", flags={"compile": ["default"], "memory_format": ["channels_last"]},
                    families=("mobilenet",))
    candidate = next(c for c in candidates(plan) if c["batch_size"] == 1)
    job, build = build_inline(plan, candidate, tmp_path)
    assert build.status == "ok", build.error
    assert build.info["compile_time_s"] > 0
    meta = json.loads((build.artifact_dir / "meta.json").read_text())
    assert meta["caches"] == ["inductor"] and any((build.artifact_dir / "inductor").rglob("*.so"))
    code = (f"import json, time, numpy as np; from pathlib import Path; from request_dse.backends.torch import load_session;"
            f"s, first = load_session(Path({str(build.artifact_dir)!r}), 1);"
            f"out = s.fetch(s.run(s.place(np.load({str(build.prepared.data_path)!r})['x_check'][:1])));"
            f"print(json.dumps({{'first': first, 'out': out.tolist()}}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["first"] < build.info["compile_time_s"]  # compiled from the artifact's cache
    import numpy as np

    reference = np.load(build.prepared.reference_path)[:1]
    assert np.allclose(loaded["out"], reference, atol=1e-3 * float(np.abs(reference).max()))


def _catalog_without_needs(tmp_path: Path, backend: str, flag: str) -> None:
    """The repository's catalog with ``needs`` dropped from one flag: a value the host cannot
    run stays in the space (what a catalog without the guard would do)."""
    catalog = yaml.safe_load((REPO_ROOT / "backends" / f"{backend}.yaml").read_text())
    catalog["flags"][flag].pop("needs", None)
    (tmp_path / "backends").mkdir(exist_ok=True)
    (tmp_path / "backends" / f"{backend}.yaml").write_text(yaml.safe_dump(catalog))


def test_bf16_autocast_is_checked_with_a_bf16_tolerance(tmp_path: Path) -> None:
    from request_dse.evaluate import check_outputs
    from request_dse.targets.session import run_session

    _catalog_without_needs(tmp_path, "torch", "autocast")
    plan = plan_for(tmp_path, "torch", "local-cpu", flags={"autocast": ["bf16"]}, families=("mobilenet",))
    candidate = next(c for c in candidates(plan) if c["batch_size"] == 4)
    job, build = build_inline(plan, candidate, tmp_path)
    assert build.status == "ok", build.error
    assert build.prepared.tolerance[0] >= 0.05
    request = dataclasses.replace(job.session, artifact_dir=build.artifact_dir, prepared=build.prepared,
                                  protocol=PROTOCOL)
    session = run_session(request)
    assert check_outputs(session.check_outputs, build.prepared) is None
    fp32 = dataclasses.replace(build.prepared, tolerance=(1e-6, 0.0))
    assert "differ from the ONNX Runtime reference" in (check_outputs(session.check_outputs, fp32) or "")


def test_illegal_instruction_is_reported_with_the_codegen_flags(tmp_path: Path) -> None:
    from request_dse import sysinfo

    if "avx512f" in sysinfo.cpu_features():
        pytest.skip("this CPU runs AVX-512 code; the check needs a CPU without it")
    from request_dse.evaluate import make_job
    from request_dse.execute import make_executor

    _catalog_without_needs(tmp_path, "tvm", "mattr")
    plan = plan_for(tmp_path, "tvm", "local-cpu", flags={"mattr": ["+avx512f,+avx512bw,+avx512dq,+avx512vl"]},
                    families=("mobilenet",))
    candidate = next(c for c in candidates(plan) if c["batch_size"] == 1)
    executor = make_executor(plan, "local")
    try:
        executor.submit(make_job(plan, 0, candidate))
        results: list[Any] = []
        while not results:
            results = executor.wait(timeout=1.0)
    finally:
        executor.shutdown()
    ((_, result),) = results
    assert result.status == "crashed", result
    assert "SIGILL" in result.error and "illegal instruction" in result.error
    assert "-mattr=+avx512f" in result.error
