"""A study measured with LoadGen: its bundles keep LoadGen's logs, validate re-runs it under LoadGen,
and ``export --mlperf`` writes every file of the MLPerf layout that docs/mlperf-export.md specifies."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from request_dse.submission.mlperf_tree import RESULT_FILES, SYSTEM_FIELDS
from tests.conftest import FAST_MEASURE, REPO, CliResult
from tests.submission.conftest import run_cli, write

DOC = REPO / "docs" / "mlperf-export.md"


def spec_block(heading: str) -> list[str]:
    """The lines of the first ```text block under ``heading`` in docs/mlperf-export.md."""
    text = DOC.read_text()
    section = text[text.index(f"## {heading}\n"):]
    block = re.search(r"```text\n(.*?)```", section, re.S)
    assert block, heading
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


@pytest.fixture(scope="module")
def loadgen_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CliResult, list[Path]]:
    tmp = tmp_path_factory.mktemp("lgstudy")
    study = write(tmp, "lg", frameworks={"onnxruntime": {"graph_optimization_level": ["all"]}},
                  space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25, 0.5],
                                        "model.resolution": [8], "model.precision": ["fp32"]}},
                  objectives=[{"maximize": "accuracy_top1"}, {"maximize": "loadgen_score"}],
                  constraints=["loadgen_valid >= 1"], sampler={"name": "grid"}, budget={"trials": 2},
                  measure={**FAST_MEASURE, "protocol": "loadgen", "scenario": "single_stream",
                           "loadgen": {"min_duration_ms": 200, "confirm_min_duration_ms": 300}},
                  confirm={"enabled": True, "repeats": 2})
    result = run_cli("tune", study, "-q")
    assert result.code == 0, result
    bundles = sorted(p for p in (tmp / "submissions" / "lg").iterdir() if p.is_dir())
    assert bundles, result
    return study, result, bundles


def test_bundles_keep_loadgen_logs_of_the_confirmation(loadgen_study) -> None:  # type: ignore[no-untyped-def]
    _, _, bundles = loadgen_study
    for bundle in bundles:
        logs = bundle / "measurements" / "loadgen"
        trial = json.loads((logs / "trial.json").read_text())
        # the study's 2 sessions, and any measured in place of one in a slow mode (a busy machine)
        assert trial["scenario"] == "single_stream" and len(trial["sessions"]) >= 2
        assert trial["compliance"]["TEST01"]["passed"] and trial["compliance"]["TEST04"]["passed"], trial
        for rel in ("performance/run_1/mlperf_log_detail.txt", "accuracy/mlperf_log_accuracy.json",
                    "TEST04/verify_performance.txt"):
            assert (logs / rel).is_file(), rel
        doc = json.loads((bundle / "submission.json").read_text())
        assert doc["measurement"]["protocol"]["protocol"] == "loadgen"
        assert doc["measurement"]["protocol"]["loadgen"]["min_duration_ms"] == 300  # the confirm phase's length
        assert "loadgen_score" in doc["metrics"] and doc["metrics"]["loadgen_valid"]["value"] == 1.0
        assert "low" in doc["metrics"]["loadgen_p90_ms"]
        assert "loadgen" not in doc["framework"]["build"]
        assert "min_duration = 300" in (logs / "performance" / "run_1" / "user.conf").read_text()


def test_validate_reruns_the_bundle_under_loadgen(loadgen_study) -> None:  # type: ignore[no-untyped-def]
    bundle = loadgen_study[2][0]
    result = run_cli("validate", bundle, "--target", "local-cpu")
    assert result.code in (0, 1), result
    verdict = json.loads((bundle / "validation.json").read_text())
    assert "functional" in verdict["badges"], verdict["reason"]
    assert verdict["info"]["compliance"]["TEST04"]["passed"]
    assert "protocol_notes" not in verdict["info"]
    assert "loadgen_score" in verdict["not_compared"]


def test_export_mlperf_writes_the_layout_the_docs_specify(loadgen_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    study, _, bundles = loadgen_study
    out = tmp_path / "tree"
    result = run_cli("export", study, "--out", tmp_path / "bundles", "--mlperf", out, "--submitter", "Our Lab")
    assert result.code == 0, result
    root = out / "open" / "Our-Lab"
    results = sorted(p for p in (root / "results").glob("*/*/*") if p.is_dir())
    assert len(results) == len(bundles)
    layout = spec_block("Layout")
    fields = spec_block("System description fields")
    assert set(fields) == set(SYSTEM_FIELDS) and all(any(f in line for line in layout) for f in RESULT_FILES)
    for folder in results:
        system, model, scenario = folder.relative_to(root / "results").parts
        assert scenario == "SingleStream"
        names = {"submitter": "Our-Lab", "system": system, "model": model, "scenario": scenario}
        for pattern in layout:
            path = out / pattern.format(**names)
            assert path.is_file() and path.stat().st_size > 0, path.relative_to(out)
        described = json.loads((root / "systems" / f"{system}.json").read_text())
        assert set(fields) <= set(described) and described["division"] == "open"
        assert described["submitter"] == "Our Lab" and all(described[f] != "" for f in ("system_name", "framework"))
        measurements = json.loads((folder / "measurements.json").read_text())
        assert set(measurements) == {"input_data_types", "retraining", "starting_weights_filename",
                                     "weight_data_types", "weight_transformations"}
        accuracy = (folder / "accuracy" / "accuracy.txt").read_text()
        assert re.fullmatch(r"accuracy=\d+\.\d+%, good=\d+, total=\d+\n", accuracy)
        readme = (folder / "README.md").read_text()
        assert "do not meet MLPerf's minimum run" in readme  # 300 ms runs are not MLPerf-valid, and say so


def test_export_mlperf_refuses_a_study_without_loadgen(tmp_path: Path) -> None:
    study = write(tmp_path, "plain", budget={"trials": 1})
    result = run_cli("export", study, "--mlperf", tmp_path / "tree")
    assert result.code == 2
    assert "needs LoadGen's logs" in result.err and "measure.protocol: loadgen" in result.err
    assert not (tmp_path / "tree").exists()
