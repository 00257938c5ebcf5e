"""The cuda target: unavailable with a one-line reason where there is no GPU; TVM builds for
CUDA on any host with the CUDA toolkit; measured end to end only where a GPU is present."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import yaml

from request_dse.study import REPO_ROOT
from request_dse.sysinfo import gpu
from request_dse.targets import load_target, make_target, option_specs
from tests.conftest import study_doc

NO_GPU = gpu.unavailable(0)


def cuda_spec(tmp_path: Path, **options: object):  # type: ignore[no-untyped-def]
    doc = yaml.safe_load((REPO_ROOT / "targets" / "cuda.yaml").read_text())
    doc["target"] = "gpu"
    doc["options"].update(options)
    path = tmp_path / "gpu.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_target(path, option_specs(), expected_name="gpu")


@pytest.mark.skipif(NO_GPU is None, reason="this machine has an NVIDIA GPU")
def test_unavailable_without_a_gpu_with_a_one_line_reason(cli, write_study) -> None:  # type: ignore[no-untyped-def]
    spec = load_target(REPO_ROOT / "targets" / "cuda.yaml", option_specs(), expected_name="cuda")
    reason = make_target(spec).unavailable()
    assert reason == NO_GPU and "\n" not in reason
    result = cli("tune", write_study("on-gpu", target="cuda"), "-q")
    assert result.code == 2
    assert result.err.strip().endswith(f"target: target 'cuda' is unavailable: {NO_GPU}")


@pytest.mark.skipif(NO_GPU is None, reason="this machine has an NVIDIA GPU")
def test_doctor_says_there_is_no_gpu(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("doctor")
    assert result.code == 0
    assert f"GPU: none: {NO_GPU}" in result.out
    row = next(line for line in result.out.splitlines() if line.startswith("cuda "))
    assert "unavailable" in row and NO_GPU in row
    assert "NVML (NVIDIA GPU): not readable" in result.out
    assert "onnxruntime on cuda:" in result.out and "tvm on cuda:" in result.out
    assert "ISA features: " in result.out and "libraries: " in result.out and "apache-tvm 0." in result.out


def test_target_options_are_validated(tmp_path: Path) -> None:
    from request_dse.errors import ConfigError

    with pytest.raises(ConfigError, match=r"options\.arch: must be 'auto' or a CUDA arch such as sm_80; got 'ampere'"):
        cuda_spec(tmp_path, arch="ampere")
    with pytest.raises(ConfigError, match=r"options\.device: must be an integer >= 0; got -1"):
        cuda_spec(tmp_path, device=-1)


def _tvm_cuda() -> str | None:
    import tvm

    if tvm.support.libinfo().get("USE_CUDA") != "ON":
        return "this apache-tvm build has no CUDA code generation"
    if shutil.which("nvcc") is None:
        try:
            import cuda.bindings  # noqa: F401  (NVRTC)
        except ImportError:
            return "neither nvcc nor NVRTC (cuda-bindings) is available to compile CUDA kernels"
    return None


def test_tvm_builds_for_cuda_without_a_gpu(tmp_path: Path) -> None:
    """Cross-compiling for the GPU needs no GPU: dlight schedules every kernel, the CUDA
    compiler turns them into a binary, and the exported library carries it."""
    why = _tvm_cuda()
    if why:
        pytest.skip(why)
    from request_dse.backends import build_candidate
    from request_dse.evaluate import make_job
    from request_dse.testing.backend_conformance import candidates, plan_for

    plan = plan_for(tmp_path, "tvm", "local-cpu", families=("mobilenet",))
    candidate = next(c for c in candidates(plan) if c["batch_size"] == 1)
    job = make_job(plan, 0, candidate)
    target = make_target(cuda_spec(tmp_path, arch="sm_80"))
    request = dataclasses.replace(job.build, target=target.build_info(), out_dir=tmp_path / "artifact")
    build = build_candidate(request)
    assert build.status == "ok", build.error
    meta = json.loads((build.artifact_dir / "meta.json").read_text())
    assert meta["target"]["kind"] == "cuda" and meta["target"]["arch"] == "sm_80"
    assert meta["target"]["host"]["kind"] == "llvm"
    library = (build.artifact_dir / meta["files"][0]).read_bytes()
    assert b"__global__" in library and b"_kernel" in library  # CUDA kernels, embedded


@pytest.mark.skipif(NO_GPU is not None, reason=f"no GPU: {NO_GPU}")
def test_study_on_the_gpu(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from request_dse.backends import get_backend

    spec = load_target(REPO_ROOT / "targets" / "cuda.yaml", option_specs(), expected_name="cuda")
    why = {name: get_backend(name).unavailable(spec) for name in spec.frameworks}
    frameworks = {name: {} for name, reason in why.items() if reason is None}
    assert "tvm" in frameworks, why
    doc = study_doc("gpu", target="cuda", frameworks=frameworks,
                    space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25, 0.5],
                                          "model.resolution": [8], "model.precision": ["fp32"]}})
    path = tmp_path / "gpu.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = cli("tune", path, "-q", "--no-export")
    assert result.code == 0, result
    trials = json.loads(cli("report", path, "--json").out)["trials"]
    assert trials and all(t["status"] == "ok" for t in trials), trials
    assert all(t["metrics"]["accuracy_top1"] > 0.5 for t in trials)
