"""A backend is one code file plus one YAML catalog: tests/plugins/onnxref.py and onnxref.yaml,
registered only through $REQUEST_DSE_PLUGINS, run a study end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from request_dse import plugins
from request_dse.backends import bundled_catalog, get_backend, names
from request_dse.study import load_plan
from request_dse.testing.studies import run_study

PLUGIN = Path(__file__).resolve().parent / "plugins" / "onnxref.py"


@pytest.fixture
def with_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(plugins.ENV, f"{plugins.named_plugins()[0]},{PLUGIN}" if plugins.named_plugins() else str(PLUGIN))


def test_the_plugin_is_unknown_until_named() -> None:
    assert "onnxref" not in names()


def test_a_named_plugin_joins_the_registry_with_its_catalog(with_plugin: None) -> None:
    assert "onnxref" in names()
    assert get_backend("onnxref").description.startswith("ONNX's reference evaluator")
    assert bundled_catalog("onnxref") == PLUGIN.with_suffix(".yaml")


def test_a_study_measures_the_plugin_backend_in_worker_processes(with_plugin: None, write_study) -> None:  # type: ignore[no-untyped-def]
    study = write_study("plugin", frameworks={"onnxref": {"check_shape_annotations": [False, True]},
                                              "onnxruntime": {"graph_optimization_level": ["all"]}},
                        space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25],
                                              "model.resolution": [4], "model.precision": ["fp32"]}},
                        budget={"trials": 3}, sampler={"name": "grid", "seed": 0})
    plan = load_plan(study)
    assert {d.name for d in plan.space.dimensions} >= {"onnxref.check_shape_annotations"}
    search = run_study(study, executor="local")
    ok = [r for r in search.records() if r.measured and r.status == "ok"]
    frameworks = {r.params["framework"] for r in ok}
    assert frameworks == {"onnxref", "onnxruntime"}, [(r.params, r.status, r.error) for r in search.records()]
    by_framework = {r.params["framework"]: r.metrics["accuracy_top1"] for r in ok}
    assert by_framework["onnxref"] == pytest.approx(by_framework["onnxruntime"])  # the same model, the same answers


def test_doctor_and_space_list_the_plugin(with_plugin: None, cli, write_study) -> None:  # type: ignore[no-untyped-def]
    result = cli("doctor")
    assert result.code == 0 and "onnxref" in result.out
    study = write_study("plugin-space", frameworks={"onnxref": {"check_shape_annotations": "*"}})
    result = cli("space", study)
    assert result.code == 0 and "onnxref.check_shape_annotations" in result.out
