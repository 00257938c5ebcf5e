"""An artifact from someone else may apply only the settings its backend's catalog declares."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from request_dse.backends import UnsafeSettings, get_backend, load_catalog
from request_dse.study import REPO_ROOT


def catalog(name: str):  # type: ignore[no-untyped-def]
    return load_catalog(REPO_ROOT / "backends" / f"{name}.yaml", get_backend(name).apply_kinds, expected_backend=name)


def ort_artifact(tmp: Path, settings: list[dict]) -> Path:  # type: ignore[type-arg]
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "meta.json").write_text(json.dumps({"backend": "onnxruntime", "version": "1.32.0", "input_name": "input",
                                               "files": ["model.onnx", "session.json"]}))
    (tmp / "session.json").write_text(json.dumps({"settings": settings, "flags": {}}))
    return tmp


GOOD_ORT = [{"kind": "session_option", "key": "graph_optimization_level", "value": "ORT_ENABLE_ALL",
             "enum": "GraphOptimizationLevel"},
            {"kind": "session_option", "key": "enable_mem_pattern", "value": True},
            {"kind": "config_entry", "key": "session.intra_op.allow_spinning", "value": "1"}]


def test_settings_a_build_writes_pass(tmp_path: Path) -> None:
    get_backend("onnxruntime").check_artifact(ort_artifact(tmp_path, GOOD_ORT), catalog("onnxruntime"))


@pytest.mark.parametrize("setting, rule", [
    ({"kind": "session_option", "key": "optimized_model_filepath", "value": "/tmp/x.onnx"},
     "session.json: settings[3].key: 'optimized_model_filepath' writes files where it names: never applied"),
    ({"kind": "session_option", "key": "profile_file_prefix", "value": "/home/organizer/p"},
     "'profile_file_prefix' writes files where it names"),
    ({"kind": "config_entry", "key": "session.load_model_format", "value": "ORT"},
     "config_entry session.load_model_format): is not among the config_entry keys of the onnxruntime catalog"),
    ({"kind": "session_option", "key": "enable_mem_pattern", "value": 1},
     "must be one of True, False (flag enable_mem_pattern); got 1 (int)"),
    ({"kind": "session_option", "key": "graph_optimization_level", "value": "ORT_ENABLE_ALL", "enum": "os"},
     "enum 'os' is not the one the catalog names"),
    ({"kind": "eval", "key": "x", "value": 1}, "must have a kind among config_entry, session_option"),
    ({"kind": "session_option", "key": "intra_op_num_threads", "value": 1, "extra": "x"}, "extra: is not a known key"),
])
def test_onnxruntime_settings_outside_the_catalog(tmp_path: Path, setting: dict, rule: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(UnsafeSettings, match=None) as info:
        get_backend("onnxruntime").check_artifact(ort_artifact(tmp_path, [*GOOD_ORT, setting]), catalog("onnxruntime"))
    assert rule in str(info.value)


def test_settings_files_within_limits(tmp_path: Path) -> None:
    art = ort_artifact(tmp_path, GOOD_ORT)
    (art / "session.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(UnsafeSettings, match="session.json: nests deeper than 64 levels"):
        get_backend("onnxruntime").check_artifact(art, catalog("onnxruntime"))
    (art / "session.json").write_text(json.dumps({"settings": "x" * (2 << 20)}))
    with pytest.raises(UnsafeSettings, match="session.json: is 2 MiB, over the limit of 1 MiB"):
        get_backend("onnxruntime").check_artifact(art, catalog("onnxruntime"))


def test_tvm_runtime_environment_only_from_the_catalog(tmp_path: Path) -> None:
    meta = {"backend": "tvm", "runtime_env": {}}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    get_backend("tvm").check_artifact(tmp_path, catalog("tvm"))
    meta["runtime_env"] = {"LD_PRELOAD": "/tmp/evil.so"}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(UnsafeSettings, match="meta.json: runtime_env.LD_PRELOAD: is not among the runtime_env keys of the tvm "
                                             r"catalog \(allowed: none\)"):
        get_backend("tvm").check_artifact(tmp_path, catalog("tvm"))


def torch_settings(**changes: object) -> dict:  # type: ignore[type-arg]
    doc = {"model": {"family": "mobilenet", "width": 0.25, "depth": None, "resolution": 8, "num_classes": 10},
           "sample_shape": [1, 8, 8], "batch_size": 1, "compile": {"mode": "none"},
           "model_option": {"memory_format": "contiguous", "autocast": "none"}, "inductor_config": {"freezing": False},
           "flags": {}}
    doc.update(changes)
    return doc


@pytest.mark.parametrize("changes, rule", [
    ({}, None),
    ({"inductor_config": {"cpp.cxx": ["sh", "-c", "touch /tmp/pwned"]}},
     "inductor_config.cpp.cxx: is not among the inductor_config keys of the torch catalog (allowed: freezing)"),
    ({"compile": {"mode": "reduce-overhead"}}, "compile.mode: must be one of 'none', 'default'"),
    ({"model": {"family": "os.system", "num_classes": 10}}, "model.family: must be a zoo family"),
    ({"sample_shape": [4096, 4096, 4096]}, "sample_shape: must be 1 to 4 sizes"),
    ({"batch_size": 10**9}, "batch_size: must be in [1, 4096]"),
])
def test_torch_settings(tmp_path: Path, changes: dict, rule: str | None) -> None:  # type: ignore[type-arg]
    (tmp_path / "session.json").write_text(json.dumps(torch_settings(**changes)))
    if rule is None:
        get_backend("torch").check_artifact(tmp_path, catalog("torch"))
        return
    with pytest.raises(UnsafeSettings) as info:
        get_backend("torch").check_artifact(tmp_path, catalog("torch"))
    assert rule in str(info.value)
