"""Measurement-aware early stopping: the decision on real latency samples, and a small real study."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from request_dse.evaluate import early_stop
from request_dse.evaluate.early_stop import decide, intervals, quantile_ci, snapshot
from request_dse.expr import MetricConstraint
from request_dse.results import load_samples

#: Latency samples (ns) measured on this project's CI machine by the quickstart, two sessions each:
#: a fast TVM build, a mid ONNX Runtime one, a slow one whose first runs hold outliers, a noisy one.
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "early_stop_samples.npz"
OBJECTIVES = (("accuracy_top1", "maximize"), ("latency_p90_ms", "minimize"))


def sessions(name: str) -> list[np.ndarray]:
    with np.load(SAMPLES) as data:
        return [data[k] / 1e6 for k in sorted(data.files) if k.startswith(name + "_session_")]


def short(name: str, runs: int = 16) -> tuple[dict[str, float], np.ndarray]:
    """What a short first session of ``runs`` timed runs would have estimated."""
    ms = sessions(name)[0][:runs]
    return {"latency_p90_ms": float(np.quantile(ms, 0.9)), "latency_p50_ms": float(np.median(ms))}, ms


def full_p90(name: str) -> float:
    return float(np.quantile(np.concatenate(sessions(name)), 0.9))


def front_of(*points: tuple[int, float, float], constraints: tuple[MetricConstraint, ...] = ()) -> early_stop.FrontSnapshot:
    return snapshot([m for m, _ in OBJECTIVES], [d for _, d in OBJECTIVES],
                    [(n, (acc, lat)) for n, acc, lat in points], constraints)


@pytest.mark.parametrize("name", ["tvm_fast", "ort_mid", "ort_slow_outliers", "ort_mid_noisy"])
def test_short_session_interval_brackets_its_estimate(name: str) -> None:
    """The p90 interval from 16 runs lies within the runs and around the estimate; its lower end
    (what stopping rests on) sits below the p90, so a few outliers do not make a candidate look slow."""
    estimate, ms = short(name)
    lo, hi = intervals(estimate, ms, ["latency_p90_ms"])["latency_p90_ms"]
    assert ms.min() <= lo <= estimate["latency_p90_ms"] <= hi
    assert lo <= np.quantile(ms, 0.8)


def test_quantile_ci_order_statistics() -> None:
    ms = np.sort(sessions("ort_mid")[0])
    lo, hi = quantile_ci(ms, 0.5)
    assert ms[0] < lo <= np.median(ms) <= hi < ms[-1]
    lo, hi = quantile_ci(ms[:16], 0.99)  # 16 runs cannot bound a p99 from above
    assert np.isfinite(lo) and hi == np.inf


def test_a_slower_candidate_of_no_better_accuracy_stops() -> None:
    estimate, ms = short("ort_slow_outliers")   # ~0.4 ms, even with outliers in its first runs
    estimate["accuracy_top1"] = 0.9610
    fast = full_p90("ort_mid")                  # ~0.03 ms
    reason = decide(estimate, ms, front_of((7, 0.9805, fast)), margin=0.25)
    assert reason is not None and "trial 7" in reason


def test_the_studys_session_spread_widens_the_margin() -> None:
    """One session cannot see how far apart sessions land; the spread the study's full
    measurements showed can: a candidate within it of the front is not stopped."""
    import dataclasses

    estimate, ms = short("ort_mid")
    estimate["accuracy_top1"] = 0.9610
    front = front_of((7, 0.9805, float(np.quantile(ms, 0.05)) / 1.3))   # 30% under its fastest runs
    assert decide(estimate, ms, front, margin=0.25) is not None
    assert decide(estimate, ms, dataclasses.replace(front, session_noise=0.9), margin=0.25) is None


def test_session_spread_is_slowest_over_fastest_session() -> None:
    from request_dse.evaluate import session_spread
    from request_dse.targets import SessionResult

    def session(ms: float) -> SessionResult:
        return SessionResult(samples_ns=np.full(50, ms * 1e6), load_time_s=0.0, memory_peak_mb=0.0, wall_s=0.0)

    assert session_spread([session(0.05)]) is None
    assert session_spread([session(0.05), session(0.08)]) == pytest.approx(0.6)


def test_a_more_accurate_candidate_never_stops() -> None:
    estimate, ms = short("ort_slow_outliers")
    estimate["accuracy_top1"] = 0.9972
    assert decide(estimate, ms, front_of((7, 0.9805, full_p90("ort_mid"))), margin=0.25) is None


def test_within_the_noise_margin_it_gets_the_full_protocol() -> None:
    """Same accuracy, latency a little above the front point's: the noise could explain it."""
    estimate, ms = short("ort_mid_noisy")
    estimate["accuracy_top1"] = 0.97
    lo, _ = intervals(estimate, ms, ["latency_p90_ms"])["latency_p90_ms"]
    front = front_of((3, 0.97, lo / 1.2))       # better than the optimistic end, but by less than 25%
    assert decide(estimate, ms, front, margin=0.25) is None
    assert decide(estimate, ms, front, margin=0.1) is not None


def test_two_noisy_sessions_of_one_candidate_do_not_stop_each_other() -> None:
    """The second session of the same build, judged against the first's full value, is not dominated."""
    for name in ("tvm_fast", "ort_mid", "ort_mid_noisy", "ort_slow_outliers"):
        first, second = sessions(name)
        ms = second[:16]
        estimate = {"latency_p90_ms": float(np.quantile(ms, 0.9)), "accuracy_top1": 0.9}
        front = front_of((1, 0.9, float(np.quantile(first, 0.9))))
        assert decide(estimate, ms, front, margin=0.25) is None, name


def test_constraints_and_unknown_metrics() -> None:
    estimate, ms = short("ort_mid")
    estimate["accuracy_top1"] = 0.4
    accuracy_floor = MetricConstraint.parse("accuracy_top1 >= 0.5")
    reason = decide(estimate, ms, front_of(constraints=(accuracy_floor,)), margin=0.25)
    assert reason is not None and "violates accuracy_top1 >= 0.5" in reason
    # a latency bound is only judged beyond the margin: at best 0.032 ms against 0.03 ms may be noise
    lo, _ = intervals(estimate, ms, ["latency_p90_ms"])["latency_p90_ms"]
    assert 0.03 < lo < 0.03 * 1.25
    assert decide(estimate, ms, front_of(constraints=(MetricConstraint.parse("latency_p90_ms <= 0.03"),)),
                  margin=0.25) is None
    assert decide(estimate, ms, front_of(constraints=(MetricConstraint.parse("latency_p90_ms <= 0.02"),)),
                  margin=0.25) is not None
    # a metric without a noise model (load time) never lets a candidate be stopped
    unknown = snapshot(["accuracy_top1", "load_time_s"], ["maximize", "minimize"], [(1, (0.99, 0.001))])
    assert decide({"accuracy_top1": 0.5, "load_time_s": 9.0}, ms, unknown, margin=0.25) is None


@pytest.mark.parametrize(("repeats", "executor"), [(2, "inline"), (1, "inline"), (2, "local")])
def test_study_stops_dominated_candidates_and_keeps_the_front(write_study, repeats: int,  # type: ignore[no-untyped-def]
                                                              executor: str) -> None:
    """One model, plain and slowed down in every run; the plain one measured first.

    With early stopping the slow one stops in the judging session (the protocol's first
    session, or a short one when it has one session; its judge ends it after ``first_runs``
    runs), is told to the sampler with its estimate, stays out of the front, and the front
    is the full protocol's. Under the local executor the judge travels to a worker process."""
    from optuna.trial import TrialState

    from request_dse.execute import make_executor
    from request_dse.results import build_report
    from request_dse.search import Search, records
    from request_dse.study import load_plan

    space = {"dimensions": {"model.family": ["mobilenet"], "model.width": [0.5], "model.resolution": [8],
                            "model.precision": ["fp32"]}}
    measure = {"warmup_runs": 5, "min_runs": 64, "min_time_s": 0.05, "max_time_s": 1.0, "repeats": repeats,
               "timeout_s": 60}
    fronts, results = [], []
    for enabled in (False, True):
        # the same model, plainly and with up to 2 ms of sleep in every run: 10-50x slower, whatever the machine
        path = write_study(f"es-{enabled}-{repeats}-{executor}", space=space, executor=executor, budget={"trials": 2},
                           frameworks={"faults": {"fault": ["none", "noisy"], "stage": ["measure"]}},
                           measure={**measure, "early_stop": {"enabled": enabled, "first_runs": 16}})
        plan = load_plan(path)
        runner = make_executor(plan)
        runner._capacity = 1  # one trial at a time: the plain one is on the front when the slow one is judged
        search = Search(plan, runner)
        search.open()
        order = sorted(plan.space.shuffled(0), key=lambda c: c["faults.fault"] != "none")
        for candidate in order:
            search.study.enqueue_trial(candidate.params)
        try:
            search.run()
        finally:
            runner.shutdown()
        front, _, _ = search.front()
        fronts.append({r.hash for r in front})
        results.append((search, records(search.study)))
    assert fronts[0] == fronts[1] and len(fronts[1]) == 1
    search, recs = results[1]
    stopped = [r for r in recs if r.status == "dominated_early"]
    assert len(stopped) == 1 and search.counters.dominated_early == 1 and search.counters.failed == 0
    for r in stopped:
        assert r.params["faults.fault"] == "noisy"
        assert "dominated by trial 0" in r.error
        assert r.metrics["accuracy_top1"] > 0.9 and r.metrics["latency_p90_ms"] > 0
        assert len(load_samples(Path(r.paths["samples"]))) == 1   # the judging session's estimate is kept
        assert r.metrics["samples"] == 16            # a short session, or the first one ended by its judge
        # with one session per candidate the plain one showed no spread yet: a second session confirms
        assert r.info["early_stop"]["in_session"] and r.info["early_stop"].get("confirmed", False) is (repeats == 1)
        # its judge scored the held-out split from its first look, the hard rows first (in a short
        # judging session too: it ends one run after that look)
        assert "(after 16 runs and 16 of 359 held-out rows scored)" in r.error
        assert r.info["scored"] == {"rows": 16, "of": 359}
    by_number = {t.number: t for t in search.study.get_trials()}
    for r in stopped:                                  # the sampler learns from the estimate
        assert by_number[r.number].state == TrialState.COMPLETE
        assert by_number[r.number].values == [r.metrics["accuracy_top1"], r.metrics["latency_p90_ms"]]
    report = build_report(search.plan, recs)
    assert report["counts"] == {"ok": 1, "dominated_early": 1}
    assert set(report["pareto"]) == {r.number for r in recs if r.status == "ok"}
    # the full protocol's candidate measured every session of the protocol, the judging one included
    ok = next(r for r in recs if r.status == "ok")
    assert ok.metrics["samples"] >= 64 * repeats
    # the same model: the rows it got wrong came first, and the stopped one's accuracy is a bound on its own
    assert 0 < len(ok.info["misclassified"]) == round((1 - ok.metrics["accuracy_top1"]) * 359)
    assert all(r.metrics["accuracy_top1"] >= ok.metrics["accuracy_top1"] for r in stopped)
    assert len(load_samples(Path(ok.paths["samples"]))) >= repeats  # more where a session was measured again


def test_a_session_judges_only_the_metrics_a_session_determines() -> None:
    """Latency, throughput, accuracy and the build's sizes: yes; energy or cost (from the target's
    power and price models, or a counter): the candidate is judged after its session instead."""
    from request_dse.evaluate.judge import judges

    assert judges(front_of((1, 0.99, 0.01), constraints=(MetricConstraint.parse("model_size_bytes <= 1e6"),)))
    assert not judges(snapshot(["accuracy_top1", "energy_mj_per_inference"], ["maximize", "minimize"], []))
    assert not judges(front_of(constraints=(MetricConstraint.parse("cost_usd_per_1m <= 3"),)))


def test_judge_bias_is_how_far_a_judging_sessions_optimistic_estimate_overstated_the_final_figure() -> None:
    """Its first runs 1.5x slower than the rest (a cold start): the look after 16 runs saw the
    candidate slower than it is, which the study's margin then allows for; steady runs show none."""
    from request_dse.evaluate.judge import judge_bias

    front = front_of((1, 0.99, 0.01))
    steady = np.full(256, 20_000, dtype=np.int64)
    assert judge_bias(steady, {"latency_p90_ms": 0.02}, front, 16, 0.0, 1) == pytest.approx(0.0)
    cold = np.concatenate([np.full(16, 30_000), np.full(240, 20_000)]).astype(np.int64)
    assert judge_bias(cold, {"latency_p90_ms": 0.02}, front, 16, 0.0, 1) == pytest.approx(0.5)
    assert judge_bias(cold, {"latency_p90_ms": 0.02}, front, 128, 0.0, 1) == pytest.approx(0.0)  # 16 cold runs of 128
    # the first look once 2.56 ms of runs are timed (after 120 runs): the cold ones no longer show
    assert judge_bias(cold, {"latency_p90_ms": 0.02}, front, 16, 0.00256, 1) == pytest.approx(0.0)
    exact_only = snapshot(["accuracy_top1"], ["maximize"], [(1, (0.99,))])
    assert judge_bias(cold, {"accuracy_top1": 0.9}, exact_only, 16, 0.0, 1) is None


def test_the_judge_stops_on_accuracys_bounds_before_every_row_is_scored(tmp_path: Path) -> None:
    """A judge asked during scoring knows accuracy only as bounds: it stops a slower candidate once
    even its highest possible accuracy is no better than the front's, and not before; its error
    says how many rows were scored."""
    from request_dse.evaluate.judge import SessionJudge
    from request_dse.workloads import PreparedModel

    labels = np.arange(100) % 10
    np.savez(tmp_path / "data.npz", x_eval=np.zeros((100, 1)), y_eval=labels, x_check=np.zeros((1, 1)))
    prepared = PreparedModel("m", tmp_path / "m.onnx", "", "x", (1,), 10, "fp32", tmp_path / "data.npz",
                             tmp_path / "ref.npy", (0.0, 0.0))
    front = front_of((0, 0.96, 0.01))                       # 4 wrong of 100, ten times faster
    judge = SessionJudge(front, 0.25, 1, 16, 0.0, {}, prepared, order=(0, 1, 2, 3, 4))
    slow = np.full(64, int(0.1e6), dtype=np.int64)          # 0.1 ms per run
    scored = np.arange(16)
    top5 = np.tile(labels[scored][:, None], (1, 5))
    three_wrong, four_wrong = top5.copy(), top5.copy()
    three_wrong[:3, 0], four_wrong[:4, 0] = 9, 9             # top-1 wrong, top-5 still right
    assert judge(slow, three_wrong, scored) is None          # at most 0.97: it might be more accurate
    reason = judge(slow, four_wrong, scored)
    assert reason is not None and "accuracy_top1 0.96 vs at best 0.96" in reason
    assert reason.endswith("(after 64 runs and 16 of 100 held-out rows scored)")
    fast = np.full(64, int(0.01e6), dtype=np.int64)          # as fast as the front: never stopped
    assert judge(fast, four_wrong, scored) is None
    whole = np.tile(labels[:, None], (1, 5))
    whole[:4, 0] = 9
    assert judge(slow, whole).endswith("(after 64 runs)")    # every row scored: the exact figure


def test_the_judge_reads_a_slow_spell_at_the_hosts_fast_speed(tmp_path: Path) -> None:
    """A candidate as fast as the front, judged in a slow spell that made every run twice as long:
    its runs read as timed look beaten by twice the margin; read with the probes timed beside them
    (twice the study's fastest probe) they are the front's figure again, and it goes on. A probe at
    the study's fastest speed leaves the same runs beaten."""
    from request_dse.evaluate.judge import SessionJudge
    from request_dse.workloads import PreparedModel

    labels = np.arange(100) % 10
    np.savez(tmp_path / "data.npz", x_eval=np.zeros((100, 1)), y_eval=labels, x_check=np.zeros((1, 1)))
    prepared = PreparedModel("m", tmp_path / "m.onnx", "", "x", (1,), 10, "fp32", tmp_path / "data.npz",
                             tmp_path / "ref.npy", (0.0, 0.0))
    front = snapshot([m for m, _ in OBJECTIVES], [d for _, d in OBJECTIVES], [(0, (0.99, 0.05))],
                     host_probe_ns=5000.0)
    judge = SessionJudge(front, 0.25, 1, 16, 0.0, {}, prepared)
    whole = np.tile(labels[:, None], (1, 5))
    whole[0, 0] = 9                                          # 0.99, as accurate as the front point
    rng = np.random.default_rng(0)
    slow = (rng.uniform(0.098, 0.102, 256) * 1e6).astype(np.int64)  # 0.1 ms: the front's 0.05 ms, twice
    assert judge(slow, whole) is not None                    # as timed: beaten
    spell = np.full(256, 10_000, dtype=np.int64)             # the probe took twice the study's fastest
    assert judge(slow, whole, probes_ns=spell) is None       # at the fast speed: the front's figure
    fast_host = np.full(256, 5_000, dtype=np.int64)
    assert judge(slow, whole, probes_ns=fast_host) is not None


@pytest.mark.parametrize("newest", ["none", "at its start", "at its end"])
def test_a_judging_session_reads_the_newest_front_when_it_starts_and_ends(write_study, newest: str) -> None:  # type: ignore[no-untyped-def]
    """A job made while the front was still empty (a constraint only) survives its judging session.
    Given the newest front when its judging session starts (the search learnt, while the job was
    built, of a point as accurate and 1,000 times faster), the same job stops there, inside the
    session; given it only when the session has ended (the point came in while it ran), it stops
    then, before its other sessions. A search with early stopping hands its executor the newest
    front after every result."""
    import dataclasses

    from request_dse.evaluate import make_job, run_trial
    from request_dse.execute import make_executor
    from request_dse.search import Search, records
    from request_dse.study import load_plan

    early = {"enabled": True, "first_runs": 16, "first_time_s": 0.0}
    path = write_study(f"newest-{newest.replace(' ', '-')}", executor="inline", budget={"trials": 1}, constraints=["accuracy_top1 >= 0.5"],
                       measure={"warmup_runs": 2, "min_runs": 32, "min_time_s": 0.0, "repeats": 2, "timeout_s": 60,
                                "early_stop": early})
    plan = load_plan(path)
    names, directions = plan.study.metric_names, [o.direction for o in plan.study.objectives]
    empty = snapshot(names, directions, [], plan.study.constraints)
    faster = snapshot(names, directions, [(99, [1.0, 1e-4])], plan.study.constraints, slow_session=0.0)
    executor = make_executor(plan)
    try:
        job = dataclasses.replace(make_job(plan, 0, next(iter(plan.space.enumerate()))), front=empty)
        reads: list[int] = []

        def feed() -> object:
            reads.append(1)
            return empty if newest == "at its end" and len(reads) == 1 else faster

        result = run_trial(job, executor.runtime, None if newest == "none" else feed)
    finally:
        executor.shutdown()
    if newest == "none":
        assert result.status == "ok", result.error
        return
    assert result.status == "dominated_early" and "dominated by trial 99" in result.error
    assert result.info["early_stop"]["in_session"] is (newest == "at its start")
    assert "measure_first_s" in result.timings and result.info["early_stop"]["first_runs"] >= 16
    executor = make_executor(plan)
    try:
        search = Search(plan, executor)
        search.run()
        seen = executor._newest()
    finally:
        executor.shutdown()
    ok = [r.number for r in records(search.study) if r.status == "ok"]
    assert ok and [p.number for p in seen.points] == ok
