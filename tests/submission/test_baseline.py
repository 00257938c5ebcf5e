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


SMALL = ("baseline", "--workload", "digits", "--backend", "onnxruntime", "--model", "mobilenet-w0.25-r4",
         "--model", "mobilenet-w0.25-r6", "--model", "mobilenet-w0.25-r8", "--precision", "fp32", *FAST)


def _interrupted_after_first(cwd: Path) -> tuple[int, str, str]:
    """Run the small baseline in a child and press Ctrl-C once its first candidate is done."""
    import signal
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("request-dse")
    proc = subprocess.Popen([str(exe), *SMALL], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("  [1/"):
            proc.send_signal(signal.SIGINT)
            break
    rest, err = proc.communicate(timeout=120)
    return proc.returncode, "".join(lines) + rest, err


def test_an_interrupted_baseline_continues_where_it_stopped(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    code, out, err = _interrupted_after_first(tmp_path)
    assert code == 130, (out, err)
    assert out.startswith("3 baseline candidates: onnxruntime x 3 model/precision pairs on local-cpu\n"), out
    assert "run the same command to continue" in err and "Traceback" not in err
    first = re.findall(r"^  \[\d/3\] (\S+ \S+): ok", out, re.M)
    assert first, out

    monkeypatch.chdir(tmp_path)
    again = run_cli(*SMALL)
    assert again.code == 0, again
    kept = int(re.search(r"^(\d) candidates? measured by an earlier run", again.out, re.M).group(1))  # type: ignore[union-attr]
    assert kept >= len(first)
    measured = re.findall(r"^  \[(\d)/3\] (\S+ \S+): ok", again.out, re.M)
    assert len(measured) == 3 - kept and not {label for _, label in measured} & set(first), again.out
    assert [int(n) for n, _ in measured] == list(range(kept + 1, 4))
    assert "ETA" in again.err and f"earlier {kept}" in again.err
    out_dir = tmp_path / "submissions" / "baseline-digits-local-cpu"
    names = sorted(p.name for p in out_dir.iterdir() if p.is_dir())
    assert names == [f"onnxruntime-mobilenet-w0.25-r{r}-fp32" for r in (4, 6, 8)]
    journal = next((tmp_path / ".request-dse" / "baseline-digits-local-cpu").glob("measured-*.jsonl"))
    recorded = {json.loads(line)["metrics"]["latency_p90_ms"] for line in journal.read_text().splitlines()}
    for name in names:  # every bundle holds the figures measured once, the earlier run's included
        assert read_bundle(out_dir / name).metric("latency_p90_ms") in recorded

    done = run_cli(*SMALL)
    assert done.code == 0 and "nothing left to measure" in done.out and "  [" not in done.out, done
    fresh = run_cli(*SMALL, "--fresh")
    assert fresh.code == 0 and "earlier run" not in fresh.out, fresh
    assert len(re.findall(r"^  \[\d/3\] ", fresh.out, re.M)) == 3
