"""A study's ``measure:``: the loadgen protocol, its scenario (or several: a dimension, one front
per scenario) and settings, read into records and checked against the study's metrics."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from request_dse.errors import ConfigError
from request_dse.evaluate import make_job
from request_dse.protocol import SCENARIO_DIMENSION, LoadGenConfig, MeasureConfig
from request_dse.results import TrialRecord, study_front
from request_dse.study import load_plan, load_study
from tests.conftest import FAST_MEASURE, study_doc


def write(tmp_path: Path, **overrides: object) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(study_doc("s", **overrides)))
    return path


LOADGEN = {**FAST_MEASURE, "protocol": "loadgen", "loadgen": {"min_duration_ms": 300, "target_latency_ms": 5}}


def test_the_request_dse_protocol_stays_the_default(tmp_path: Path) -> None:
    study = load_study(write(tmp_path))
    assert study.measure.protocol == "request-dse" and not study.measure.uses_loadgen and study.scenarios == ()


def test_a_protocol_record_written_out_reads_back(tmp_path: Path) -> None:
    """Bundles and tools write ``dataclasses.asdict`` of the protocol: it is a valid ``measure:``."""
    measure = MeasureConfig(warmup_runs=3, min_runs=20, repeats=2, session_tolerance=0.1, max_extra_sessions=1)
    assert load_study(write(tmp_path, measure=dataclasses.asdict(measure))).measure == measure
    loadgen = dataclasses.replace(measure, protocol="loadgen", scenario="offline",
                                  loadgen=LoadGenConfig(min_duration_ms=500, target_qps=100.0))
    assert load_study(write(tmp_path, measure=dataclasses.asdict(loadgen))).measure == loadgen


def test_loadgen_settings_are_read(tmp_path: Path) -> None:
    study = load_study(write(tmp_path, measure={**LOADGEN, "scenario": "server"},
                             objectives=[{"maximize": "accuracy_top1"}, {"maximize": "server_qps"}],
                             constraints=["loadgen_valid >= 1"]))
    m = study.measure
    assert m.uses_loadgen and m.scenario == "server" and study.scenarios == ()
    assert m.loadgen == LoadGenConfig(min_duration_ms=300, target_latency_ms=5.0)
    assert m.loadgen.min_queries("server") == 662 and m.loadgen.min_queries("single_stream") == 64


def test_several_scenarios_are_a_dimension_with_one_front_each(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, measure={**LOADGEN, "scenario": ["single_stream", "offline"]},
                           objectives=[{"maximize": "accuracy_top1"}, {"maximize": "loadgen_score"}]))
    assert plan.study.scenarios == ("single_stream", "offline")
    dim = next(d for d in plan.space.dimensions if d.name == SCENARIO_DIMENSION)
    assert dim.choices == ("single_stream", "offline")
    by_scenario = {}
    for candidate in plan.space.enumerate():
        job = make_job(plan, 0, candidate)
        assert job.session.protocol.scenario == candidate[SCENARIO_DIMENSION]
        assert job.session.log_dir == job.trial_dir / "loadgen"
        by_scenario.setdefault(candidate[SCENARIO_DIMENSION], candidate)

    def record(number: int, scenario: str, accuracy: float, score: float) -> TrialRecord:
        params = {**by_scenario[scenario].params}
        return TrialRecord(number, "COMPLETE", "ok", params, f"h{number}",
                           {"accuracy_top1": accuracy, "loadgen_score": score})

    # Offline scores are higher than any SingleStream score: one front would hold Offline points only
    records = [record(0, "single_stream", 0.95, 900.0), record(1, "single_stream", 0.90, 1000.0),
               record(2, "single_stream", 0.90, 800.0), record(3, "offline", 0.95, 5000.0),
               record(4, "offline", 0.90, 4000.0)]
    front, _, hv = study_front(plan, records)
    assert sorted(r.number for r in front) == [0, 1, 3]
    assert hv > 0


@pytest.mark.parametrize(("measure", "field", "rule"), [
    ({**LOADGEN, "scenario": ["single_stream", "offline"], "early_stop": {"enabled": True}},
     "measure.early_stop", "keeps one front per scenario"),
    ({**FAST_MEASURE, "loadgen": {"min_duration_ms": 10}}, "measure.loadgen", "applies to the loadgen protocol only"),
    ({**LOADGEN, "scenario": "sometimes"}, "measure.scenario", "must be one of 'single_stream'"),
    ({**LOADGEN, "loadgen": {"min_duration_ms": 0}}, "measure.loadgen.min_duration_ms", ">= 1"),
    ({**LOADGEN, "max_extra_sessions": 99}, "measure.max_extra_sessions", "in [0, 20]"),
])
def test_bad_measure_settings_name_the_field(tmp_path: Path, measure: dict, field: str, rule: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_study(write(tmp_path, measure=measure))
    assert err.value.field.startswith(field) and rule in str(err.value), str(err.value)


def test_the_shipped_loadgen_study_loads() -> None:
    from request_dse.study import REPO_ROOT

    plan = load_plan(REPO_ROOT / "studies" / "mlperf.yaml")
    assert plan.study.measure.uses_loadgen and plan.study.scenarios == ("single_stream", "offline")
    assert plan.study.measure.loadgen.confirm_min_duration_ms == 10_000
    assert any(d.name == SCENARIO_DIMENSION for d in plan.space.dimensions)
