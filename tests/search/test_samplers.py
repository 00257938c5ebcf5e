"""The default sampler on the recorded digits table (replayed: no build, no measurement)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import optuna
import pytest

from request_dse import results as pareto
from request_dse.execute import InlineExecutor
from request_dse.results import Row, read_table, write_table
from request_dse.search import Search, make_sampler, records
from request_dse.study import SamplerConfig, load_plan

REPO = Path(__file__).resolve().parents[2]
REPLAY_STUDY = REPO / "benchmarks" / "tables" / "digits-replay.yaml"


def search(sampler: str, seed: int, trials: int, **options) -> Search:  # type: ignore[no-untyped-def]
    plan = load_plan(REPLAY_STUDY)
    study = dataclasses.replace(plan.study, name=f"{sampler}-{seed}", storage="memory", trials=trials,
                                sampler=SamplerConfig(sampler, seed, options))
    s = Search(dataclasses.replace(plan, study=study), InlineExecutor(), cache=None)
    s.run()
    return s


def measured(s: Search) -> list:  # type: ignore[type-arg]
    return sorted((r for r in records(s.study) if r.measured), key=lambda r: r.number)


def hv_ratio(s: Search) -> float:
    """Hypervolume found / the exhaustive front's, reference point at the front's nadir + 10%."""
    plan = s.plan
    names, directions = plan.study.metric_names, [o.direction for o in plan.study.objectives]
    table = read_table(plan.target.table_path)
    rows = [table.get(c) for c in plan.space.enumerate()]
    every = np.array([[r.metrics[m] for m in names] for r in rows if r is not None and r.status == "ok"])
    front = every[pareto.front(every, directions)]
    ref = pareto.reference_point(front, directions)
    found = np.array([[r.metrics[m] for m in names] for r in measured(s) if r.status == "ok"])
    return pareto.hypervolume(found, directions, ref) / pareto.hypervolume(front, directions, ref)


def test_default_never_spends_a_trial_on_a_duplicate_or_an_excluded_candidate() -> None:
    s = search("default", 0, 40)
    done = measured(s)
    assert len(done) == 40 and s.counters.skipped == 0
    assert len({r.hash for r in done}) == 40
    space = s.plan.space
    for r in done:
        assert space.excluded_by(space.candidate(r.params)) is None


def test_default_starts_from_the_backends_default_flags() -> None:
    done = measured(search("default", 3, 3))
    first, second = done[0].params, done[1].params
    assert first["framework"] == "onnxruntime" and first["onnxruntime.graph_optimization_level"] == "all"
    assert second["framework"] == "tvm" and second["tvm.fusion"] is True
    for params in (first, second):  # the workload's and the target's defaults for the rest
        assert (params["model.family"], params["model.width"], params["model.resolution"]) == ("mobilenet", 1.0, 8)
        assert (params["model.precision"], params["batch_size"], params["target.threads"]) == ("fp32", 1, 1)


def test_default_is_seeded() -> None:
    a, b, c = (measured(search("default", seed, 25)) for seed in (5, 5, 6))
    assert [r.hash for r in a] == [r.hash for r in b]
    assert [r.hash for r in a] != [r.hash for r in c]


def test_default_finds_more_of_the_front_than_random_search_in_a_tenth_of_the_space() -> None:
    budget = 50  # 10% of the 504 candidates
    default = [hv_ratio(search("default", seed, budget)) for seed in range(3)]
    random = [hv_ratio(search("random", seed, budget)) for seed in range(3)]
    assert np.median(default) > np.median(random)
    assert np.median(default) >= 0.9


def test_warm_start_from_a_recorded_table_comes_after_the_defaults(tmp_path: Path) -> None:
    plan = load_plan(REPLAY_STUDY)
    picks = [c for c in plan.space.enumerate() if c["framework"] == "onnxruntime"
             and c["model.precision"] == "int8" and c["batch_size"] == 8][:2]
    table = tmp_path / "earlier.jsonl"
    write_table([Row(picks[0].params, "ok", {"accuracy_top1": 0.99, "latency_p90_ms": 0.1}),
                 Row(picks[1].params, "ok", {"accuracy_top1": 0.98, "latency_p90_ms": 0.05})], table)
    done = measured(search("default", 0, 4, warm_start=str(table)))
    assert [r.hash for r in done[2:4]] == [picks[0].hash, picks[1].hash]


def test_spaces_too_large_to_enumerate_fall_back_to_nsga2(monkeypatch: pytest.MonkeyPatch) -> None:
    import request_dse.search.samplers.default as sd

    plan = load_plan(REPLAY_STUDY)
    assert isinstance(make_sampler(SamplerConfig("default", 0), 10, plan), sd.SpaceAwareSampler)
    monkeypatch.setattr(sd, "MAX_CANDIDATES", 100)
    assert isinstance(make_sampler(SamplerConfig("default", 0), 10, plan), optuna.samplers.NSGAIISampler)


def test_default_learns_from_a_waiting_survivors_estimate() -> None:
    """A survivor whose other sessions wait (``early_stop.defer``) stays a running trial with its
    judging estimate as the ``estimate`` user attribute: the default sampler counts it as observed,
    with those values, as soon as it is there (and a running trial without one as taken only)."""
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import TrialState, create_trial

    from request_dse.search.storage import ESTIMATE

    s = search("default", 0, 3)
    sampler = s.study.sampler
    before, _, _, _ = sampler._observed(s.study)
    candidate = next(c for c in s.plan.space.enumerate() if c.hash not in {r.hash for r in measured(s)})
    at = sampler.index[candidate.hash]
    distributions = {k: CategoricalDistribution([v]) for k, v in candidate.params.items()}
    for attrs in ({}, {ESTIMATE: [0.9, 0.05]}):
        s.study.add_trial(create_trial(state=TrialState.RUNNING, params=dict(candidate.params),
                                       distributions=distributions, user_attrs=attrs))
        idx, y, feasible, taken = sampler._observed(s.study)
        assert at in taken
        if not attrs:
            assert len(idx) == len(before)
    assert len(idx) == len(before) + 1 and idx[-1] == at
    directions = [o.direction for o in s.plan.study.objectives]
    assert list(y[-1]) == [-v if d == "maximize" else v for v, d in zip([0.9, 0.05], directions, strict=True)]
    assert feasible[-1]
