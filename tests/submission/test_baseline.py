"""Baselines: default flags of each available backend, as bundles the scoreboard draws with a study's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from request_dse.submission import read_bundle
from tests.submission.conftest import run_cli

FAST = ("--repeats", "1", "--min-runs", "10", "--min-time-s", "0")


@pytest.fixture(scope="module")
def baselines(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    import os

    tmp = tmp_path_factory.mktemp("baseline")
    cwd = Path.cwd()
    os.chdir(tmp)
    try:
        result = run_cli("baseline", "--workload", "digits", "--target", "local-cpu", "--backend", "onnxruntime",
                         "--backend", "tvm", "--model", "mobilenet-w0.25-r4", "--precision", "fp32", *FAST)
    finally:
        os.chdir(cwd)
    assert result.code == 0, result
    return tmp / "submissions" / "baseline-digits-local-cpu", result


def test_baseline_bundles_per_backend(baselines) -> None:  # type: ignore[no-untyped-def]
    out, result = baselines
    found = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert found == ["onnxruntime-mobilenet-w0.25-r4-fp32", "tvm-mobilenet-w0.25-r4-fp32"]
    for name in found:
        b = read_bundle(out / name)
        assert b.is_baseline and b.pareto is None and b.study is None
        assert b.id == f"baseline-digits-local-cpu-{name}"
        catalog_defaults = b.submission["framework"]["flags"]
        if b.framework == "tvm":
            assert catalog_defaults["opt_level"] == 3 and catalog_defaults.get("tuning", "none") == "none"
        rebuild = b.submission["reproduce"]["rebuild"]
        assert rebuild.startswith("request-dse baseline --workload digits --target local-cpu") and "--repeats 1" in rebuild
        assert b.metric("accuracy_top1") == pytest.approx(0.8552, abs=1e-3)


def test_baseline_uses_every_available_backend_but_testing_ones() -> None:
    from request_dse.study import find_data_file
    from request_dse.submission.baseline import baseline_backends
    from request_dse.targets import load_target, option_specs

    spec = load_target(find_data_file("targets", "local-cpu"), option_specs(), expected_name="local-cpu")
    usable, skipped = baseline_backends(spec)
    assert {"onnxruntime", "tvm"} <= set(usable) and "faults" not in usable
    from request_dse.backends import names

    assert "faults" in names()  # registered (as a plug-in of the test suite), yet never a baseline
    if "torch" in names():
        assert "torch" in usable or any(name == "torch" for name, _ in skipped)


def test_bad_baseline_arguments_are_one_line_errors(tmp_path: Path) -> None:
    result = run_cli("baseline", "--workload", "nope")
    assert result.code == 2 and "baselines are measured on zoo workloads" in result.err
    result = run_cli("baseline", "--workload", "digits", "--model", "no-such-model", *FAST)
    assert result.code == 2 and "no zoo model and precision matches" in result.err


def test_scoreboard_draws_study_entries_and_baselines(tuned, baselines, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, bundles = tuned
    out, _ = baselines
    page = tmp_path / "scoreboard.html"
    result = run_cli("scoreboard", bundles[0].parent, out, "-o", page)
    assert result.code == 0, result
    html = page.read_text()
    for path in bundles:
        assert read_bundle(path).id in html
    for path in out.iterdir():
        if path.is_dir():
            assert read_bundle(path).id in html
    assert "baseline (onnxruntime)" in html and "baseline (tvm)" in html
    assert json.loads((bundles[0] / "submission.json").read_text())["study"]["name"] in html
