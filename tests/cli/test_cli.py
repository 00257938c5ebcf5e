"""The command line: help, exit codes, the report contract, space and doctor output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from request_dse.study import REPO_ROOT

HEAVY = ("tvm", "torch", "ray", "mlflow", "onnxruntime", "optuna", "sklearn")
CONTRACT = REPO_ROOT.parent / "shared" / "checks" / "report_contract.py"


def test_help_and_import_stay_light() -> None:
    code = ("import sys; from request_dse.cli import cli; import request_dse;"
            "from click.testing import CliRunner; r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0;"
            "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in %r)))" % (HEAVY,))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"imported by --help: {out}"


@pytest.mark.parametrize("command", ["tune", "report", "space", "doctor"])
def test_every_command_has_help(cli, command: str) -> None:  # type: ignore[no-untyped-def]
    result = cli(command, "--help")
    assert result.code == 0 and "Usage:" in result.out


def test_missing_study_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("tune", tmp_path / "nope.yaml")
    assert result.code == 2
    assert result.err.strip() == f"request-dse: error: {tmp_path / 'nope.yaml'}: file not found"


def test_report_before_any_run(cli, write_study) -> None:  # type: ignore[no-untyped-def]
    path = write_study("fresh")
    result = cli("report", path)
    assert result.code == 2 and "has not been run yet" in result.err


def test_tune_then_report_meets_the_contract(cli, write_study) -> None:  # type: ignore[no-untyped-def]
    path = write_study("contract", budget={"trials": 4}, sampler={"name": "grid"})
    tuned = cli("tune", path)
    assert tuned.code == 0, tuned
    assert "Pareto front (" in tuned.out and "accuracy_top1" in tuned.out
    assert "[####################] 4/4" in tuned.err  # the progress line
    result = cli("report", path, "--json")
    assert result.code == 0
    report = json.loads(result.out)
    assert len(report["pareto"]) >= 1 and report["hypervolume"] > 0
    assert all(t["status"] == "ok" and Path(t["files"]["samples"]).exists() for t in report["trials"])
    if CONTRACT.exists():  # the shared contract check, where this checkout sits beside it
        check = subprocess.run([sys.executable, str(CONTRACT)], input=result.out, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout
    text = cli("report", path)
    assert text.code == 0 and "Pareto front:" in text.out and "hypervolume" in text.out


def test_nothing_measured_exits_3(cli, write_study) -> None:  # type: ignore[no-untyped-def]
    path = write_study("broken", frameworks={"faults": {"fault": ["raise"], "stage": ["build"]}},
                       budget={"trials": 2})
    result = cli("tune", path)
    assert result.code == 3
    assert "no trial succeeded" in result.err
    report = cli("report", path, "--json")
    assert report.code == 3
    assert {t["status"] for t in json.loads(report.out)["trials"]} == {"build_error"}


def test_space_lists_dimensions_conditions_and_count(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("space", REPO_ROOT / "studies" / "quickstart.yaml")
    assert result.code == 0
    assert "model.width" in result.out and "model.family == 'mobilenet'" in result.out
    assert "tvm.fusion" in result.out and "framework == 'tvm'" in result.out
    assert "not (framework == 'tvm' and model.precision == 'int8')" in result.out
    assert "distinct candidates" in result.out


def test_doctor(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("doctor")
    assert result.code == 0
    assert "local-cpu" in result.out and "onnxruntime" in result.out and "tvm" in result.out
    assert "energy counters:" in result.out
    assert "installer: uv 0.13." in result.out and "registry: reachable: resolved packaging==" in result.out


def test_unwritable_work_dir(cli, write_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the work dir should be")
    path = write_study("nowrite", work_dir=str(blocker / "sub"))
    result = cli("tune", path)
    assert result.code == 2
    assert "the study's work dir is not writable" in result.err
