"""The frozen job an executor runs for one candidate of a plan."""

from __future__ import annotations

import dataclasses

from request_dse.backends import BuildRequest
from request_dse.evaluate._base import TrialJob
from request_dse.protocol import SCENARIO_DIMENSION, MeasureConfig
from request_dse.space import Candidate
from request_dse.study import Plan
from request_dse.targets import SessionRequest


def protocol_for(plan: Plan, candidate: Candidate) -> MeasureConfig:
    """The study's protocol, in the candidate's LoadGen scenario when the scenario is a dimension."""
    scenario = candidate.get(SCENARIO_DIMENSION)
    return dataclasses.replace(plan.study.measure, scenario=scenario) if scenario else plan.study.measure


def make_job(plan: Plan, number: int, candidate: Candidate) -> TrialJob:
    backend = candidate["framework"]
    batch, threads = plan.batch_size(candidate), plan.threads(candidate)
    trial_dir = plan.work_dir / "trials" / candidate.hash
    lock = plan.environment(candidate)
    build = BuildRequest(candidate, plan.study.workload, backend, plan.catalogs[backend], plan.flags(candidate),
                         plan.target.build_info(), batch, threads, trial_dir / "artifact", plan.cache_dir / "prepared",
                         lock)
    session = SessionRequest(backend, trial_dir / "artifact", None, batch, threads,  # type: ignore[arg-type]
                             protocol_for(plan, candidate), score=True, log_dir=trial_dir / "loadgen",
                             environment=lock)
    return TrialJob(number, candidate, build, plan.study.build, session, plan.target_spec, trial_dir)
