"""The report's note, like the tune line, leads with a failure's cause: the class and the
sentence that names the operator, then where it was raised."""

from __future__ import annotations

from pathlib import Path

from tests.workloads.user_models import scaler_mlp


def test_a_tvm_import_failure_keeps_the_operator_name(cli, write_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    onnx_path, data_path = scaler_mlp(tmp_path)
    study = write_study("mlp", workload={"name": "mlp", "onnx": onnx_path.name, "data": data_path.name},
                        frameworks=["onnxruntime", "tvm"], space={"dimensions": {}}, sampler={"name": "grid"},
                        budget={"trials": 2})
    tuned = cli("tune", study)
    assert tuned.code == 0, tuned
    line = next(x for x in tuned.err.splitlines() if x.startswith("trial") and "build_error" in x)
    assert " tvm (OpNotImplemented: " in line and "Scaler" in line, line
    assert " (at " not in line or line.index("Scaler") < line.index(" (at "), line

    report = cli("report", study)
    assert report.code == 0, report
    row = next(x for x in report.out.splitlines() if x.split()[:2] == ["1", "build_error"])
    note = row[row.index("OpNotImplemented"):]
    assert note.endswith("Scaler") and len(note) <= 70, note
