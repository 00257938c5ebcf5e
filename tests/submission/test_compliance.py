"""Validation runs MLPerf's TEST01 and TEST04 on every bundle: a backend that caches results loses
the functional badge; a bundle's LoadGen settings are read defensively and capped."""

from __future__ import annotations

import json
from pathlib import Path

from request_dse.protocol import LoadGenConfig, MeasureConfig
from request_dse.submission.compliance import bundle_protocol, compliance_problem, not_applicable, record_compliance
from tests.conftest import FAST_MEASURE
from tests.submission.conftest import run_cli, write


def test_a_bundle_that_caches_results_is_not_functional(tmp_path: Path) -> None:
    study = write(tmp_path, "cache", frameworks={"faults": {"fault": ["caching"]}},
                  space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25],
                                        "model.resolution": [8], "model.precision": ["fp32"]}},
                  budget={"trials": 1}, measure=FAST_MEASURE)
    assert run_cli("tune", study, "-q").code == 0
    (bundle,) = [p for p in (tmp_path / "submissions" / "cache").iterdir() if p.is_dir()]
    result = run_cli("validate", bundle, "--target", "local-cpu")
    assert result.code == 1, result
    verdict = json.loads((bundle / "validation.json").read_text())
    assert verdict["status"] == "available" and verdict["badges"] == ["available"]
    assert verdict["reason"].startswith("MLPerf compliance: TEST04: the repeated sample ran")
    assert "cache of results" in verdict["reason"]
    assert verdict["info"]["compliance"]["TEST01"]["passed"]  # right answers: TEST01 alone cannot tell


def test_missing_or_failed_tests_are_problems() -> None:
    assert compliance_problem({}) == "TEST01 and TEST04 did not run"
    passed = {"passed": True, "detail": "ok"}
    assert compliance_problem({"loadgen": {"compliance": {"TEST01": passed, "TEST04": passed}}}) is None
    failed = {"TEST01": passed, "TEST04": {"passed": False, "detail": "TEST04: too fast"}}
    assert compliance_problem({"loadgen": {"compliance": failed}}) == "TEST04: too fast"


def test_a_bundles_loadgen_settings_are_checked_and_capped() -> None:
    base = MeasureConfig()
    protocol, notes = bundle_protocol({"protocol": "loadgen", "scenario": "offline",
                                       "loadgen": {"min_duration_ms": 10**9, "target_qps": 100,
                                                   "samples_per_query": "8", "server_search_s": True,
                                                   "confirm_min_duration_ms": 600000}}, base)
    assert protocol.uses_loadgen and protocol.scenario == "offline"
    assert protocol.loadgen == LoadGenConfig(min_duration_ms=60_000, target_qps=100.0)
    assert notes == ["protocol loadgen.min_duration_ms=1000000000 capped at 60000",
                     "protocol loadgen.samples_per_query='8' ignored (not a positive number)",
                     "protocol loadgen.server_search_s=True ignored (not a positive number)"]
    protocol, notes = bundle_protocol({"protocol": "loadgen", "scenario": "server", "loadgen": []}, base)
    assert protocol.scenario == "single_stream" and "without loadgen.target_latency_ms" in notes[0]
    protocol, notes = bundle_protocol({"protocol": "timeit"}, base)
    assert protocol == base and "not one of request-dse, loadgen" in notes[0]
    assert bundle_protocol({"protocol": "request-dse"}, base) == (base, [])


def test_targets_where_loadgen_cannot_run_skip_the_tests_and_say_why() -> None:
    from request_dse.study import REPO_ROOT
    from request_dse.targets import load_target, make_target, option_specs

    def target(name: str):  # type: ignore[no-untyped-def]
        return make_target(load_target(REPO_ROOT / "targets" / f"{name}.yaml", option_specs(), expected_name=name))

    assert not_applicable(target("local-cpu")) is None
    assert "LoadGen drives the backend's session" in not_applicable(target("rpc-example"))
    assert not_applicable(target("replay")) == "a replay target runs nothing"
    said: list[str] = []
    info: dict[str, object] = {}
    assert record_compliance({}, info, said.append, target("rpc-example")) is None
    assert info["compliance"] == ("not run on target 'rpc-example': LoadGen drives the backend's session in the "
                                  "process that measures, and over TVM RPC every call is a round trip from this host "
                                  "timed by the device's time_evaluator")
    assert said == [f"MLPerf compliance tests {info['compliance']}"]
    assert record_compliance({}, info, said.append, target("local-cpu")) == "TEST01 and TEST04 did not run"
